"""A synthetic event history of the three tables and finance, deterministic from a seed.

Each customer of each sales rep lives one cycle: registered, followed up, next actions
committed and done (some late), a progress report answered, visit and quote tasks (some
overdue, some quotes over the concession threshold and decided), a sample ticket through
its stages (some late), a rating, and an invoice, payments and orders. About 40 events a
customer, in the mix a real quarter has; used to fill an inbox for the rebuild benchmark.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from contracts.base import IntegrationEvent
from contracts.collaboration import (
    DocumentsCompleted,
    InfoRequested,
    InfoSupplied,
    ReceiptConfirmed,
    StockingStarted,
    TicketAnswered,
    TicketDispatched,
    TicketRated,
    TicketShipped,
    TicketSubmitted,
    TicketTimedOut,
)
from contracts.customer_actions import NextActionCompleted, NextActionOverdue
from contracts.customer_reports import ProgressReported, SupportAnswered
from contracts.customers import CustomerRegistered, CustomerTierChanged, FollowUpLogged
from contracts.finance import InvoiceIssued, OrderPlaced, PaymentReceived
from contracts.tasks import (
    ConcessionApproved,
    ConcessionExceeded,
    ConcessionRejected,
    OpenTask,
    TaskPlanned,
    TasksOverdue,
    TaskSubmitted,
)
from salesops.orgdir import OrgDirectory, Role

START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)


@dataclass(frozen=True)
class Stored:
    """One inbox row: the event and when it was recorded."""

    event_id: uuid.UUID
    event: IntegrationEvent
    occurred_at: datetime


def _customer_cycle(
    rng: random.Random, n: int, rep: str, supervisor: str, director: str, at: datetime
) -> Iterator[tuple[IntegrationEvent, datetime]]:
    cid = f"c{n}"
    tier = rng.choice("AABCC")
    yield (
        CustomerRegistered(
            customer_id=cid,
            external_key=f"ERP-{n}",
            name=f"客户{n}",
            tier=tier,
            owner_id=rep,
            org_unit_id="group-east-1",
            estimated_contribution=Decimal(rng.randrange(50, 2000) * 1000),
            registered_by=rep,
            registered_at=at,
        ),
        at,
    )
    for k in range(rng.randrange(3, 9)):
        when = at + (k + 1) * 24 * H
        yield (
            FollowUpLogged(
                customer_id=cid,
                follow_up_id=f"fu{n}-{k}",
                owner_id=rep,
                kind=rng.choice(["visit", "call", "meeting", "message"]),
                contacted_at=when,
                notes="跟进产线改造方案",
                competitor_notes="竞品报价低 8%" if rng.random() < 0.6 else None,
                decision_chain_change=None,
                last_contact_at=when,
                logged_by=rep,
                logged_at=when,
            ),
            when,
        )
    if rng.random() < 0.2:
        yield (
            CustomerTierChanged(
                customer_id=cid,
                from_tier=tier,
                to_tier="A",
                changed_by=supervisor,
                changed_at=at + 30 * H,
            ),
            at + 30 * H,
        )
    for k in range(2):
        due = at + (48 + 72 * k) * H
        if rng.random() < 0.75:
            yield (
                NextActionCompleted(
                    customer_id=cid,
                    owner_id=rep,
                    action_kind="other",
                    due_at=due,
                    completed_at=due - H,
                    on_time=True,
                ),
                due - H,
            )
        else:
            yield (
                NextActionOverdue(
                    customer_id=cid, owner_id=rep, action_kind="other", due_at=due, detected_at=due
                ),
                due,
            )
    report = f"pr{n}"
    yield (
        ProgressReported(
            report_id=report,
            customer_id=cid,
            rep_id=rep,
            supervisor_id=supervisor,
            key_action="quoted",
            obstacle=rng.choice(
                ["budget_frozen", "tech_params_unconfirmed", "competitor_price_pressure"]
            ),
            support_needed="请协调技术部确认参数",
            reported_at=at + 50 * H,
            answer_due_at=at + 54 * H,
        ),
        at + 50 * H,
    )
    yield (
        SupportAnswered(
            report_id=report,
            customer_id=cid,
            answered_by=supervisor,
            answer="coordinated",
            note=None,
            answered_at=at + 52 * H,
            on_time=True,
        ),
        at + 52 * H,
    )
    yield from _tasks(rng, n, cid, rep, supervisor, director, at + 60 * H)
    yield from _ticket(rng, n, cid, rep, at + 80 * H)
    yield from _finance(rng, n, cid, at + 100 * H)


def _tasks(
    rng: random.Random, n: int, cid: str, rep: str, supervisor: str, director: str, at: datetime
) -> Iterator[tuple[IntegrationEvent, datetime]]:
    for k, kind in enumerate(("visit", "quote")):
        task_id = f"t{n}-{k}"
        scheduled = at + k * 24 * H
        yield (
            TaskPlanned(
                task_id=task_id,
                customer_id=cid,
                rep_id=rep,
                kind=kind,
                title="拜访" if kind == "visit" else "报价",
                scheduled_at=scheduled,
                planned_by=rep,
                planned_at=at - 24 * H,
            ),
            at - 24 * H,
        )
        if rng.random() < 0.15:
            open_task = OpenTask(
                task_id=task_id, customer_id=cid, kind=kind, title="拜访", scheduled_at=scheduled
            )
            yield (
                TasksOverdue(
                    rep_id=rep,
                    supervisor_id=supervisor,
                    card_date=scheduled.date(),
                    deadline_at=scheduled + 12 * H,
                    overdue_tasks=[open_task],
                ),
                scheduled + 12 * H,
            )
            continue
        concession = Decimal(rng.randrange(0, 1600)) / 100 if kind == "quote" else None
        locked = concession is not None and concession > 12
        yield (
            TaskSubmitted(
                task_id=task_id,
                customer_id=cid,
                rep_id=rep,
                kind=kind,
                scheduled_at=scheduled,
                submitted_at=scheduled + H,
                evidence_compliant=True,
                target_price=Decimal(100000) if concession is not None else None,
                deal_price=Decimal(100000) - concession * 1000 if concession is not None else None,
                concession_pct=concession,
                locked=locked,
            ),
            scheduled + H,
        )
        if locked and concession is not None:
            yield (
                ConcessionExceeded(
                    task_id=task_id,
                    customer_id=cid,
                    rep_id=rep,
                    target_price=Decimal(100000),
                    deal_price=Decimal(100000) - concession * 1000,
                    concession_pct=concession,
                    threshold_pct=Decimal(12),
                ),
                scheduled + H,
            )
            decision = ConcessionApproved if rng.random() < 0.6 else ConcessionRejected
            yield (
                decision(
                    task_id=task_id,
                    customer_id=cid,
                    rep_id=rep,
                    concession_pct=concession,
                    decided_by=director,
                    reason="战略客户",
                    decided_at=scheduled + 3 * H,
                ),
                scheduled + 3 * H,
            )


def _ticket(
    rng: random.Random, n: int, cid: str, rep: str, at: datetime
) -> Iterator[tuple[IntegrationEvent, datetime]]:
    ticket, team = f"k{n}", "tech-electrical"
    late = rng.random() < 0.2
    answered = at + (3 if late else 1) * H
    yield (
        TicketSubmitted(
            ticket_id=ticket,
            ticket_kind="sample_request",
            customer_id=cid,
            requester_id=rep,
            product="HY-75 空压机",
            quantity=2,
            document_types=["ce_certification_report"],
            note=None,
            submitted_at=at,
        ),
        at,
    )
    yield (
        TicketDispatched(
            ticket_id=ticket,
            team_id=team,
            owner_id="te-luo-bin",
            document_types=["ce_certification_report"],
            due_at=at + 2 * H,
            dispatched_at=at,
        ),
        at,
    )
    if rng.random() < 0.2:
        yield (
            InfoRequested(
                ticket_id=ticket,
                team_id=team,
                requested_by="te-luo-bin",
                missing_items=["电压规格"],
                requested_at=at + H / 2,
                on_time=True,
                time_left_seconds=5400,
            ),
            at + H / 2,
        )
        yield (
            InfoSupplied(
                ticket_id=ticket,
                team_id=team,
                supplied_by=rep,
                info="380V",
                supplied_at=at + H,
                due_at=at + 2.5 * H,
            ),
            at + H,
        )
    if late:
        yield (
            TicketTimedOut(
                ticket_id=ticket,
                ticket_kind="sample_request",
                stage="tech_answer",
                owner_id="te-luo-bin",
                due_at=at + 2 * H,
                overdue_by_seconds=1,
                escalation_level=1,
                escalated_to_id="tl-gao-jianjun",
                team_id=team,
            ),
            at + 2 * H,
        )
    yield (
        TicketAnswered(
            ticket_id=ticket,
            team_id=team,
            answered_by="te-luo-bin",
            answered_at=answered,
            on_time=not late,
        ),
        answered,
    )
    yield (
        DocumentsCompleted(
            ticket_id=ticket,
            team_id="logistics",
            owner_id="lg-cao-yang",
            completed_at=answered,
            stocking_due_at=answered + 4 * H,
        ),
        answered,
    )
    yield (
        StockingStarted(
            ticket_id=ticket, started_by="lg-cao-yang", started_at=answered + H, on_time=True
        ),
        answered + H,
    )
    shipped = answered + 20 * H
    yield (
        TicketShipped(
            ticket_id=ticket,
            shipped_by="lg-cao-yang",
            shipped_at=shipped,
            tracking="SF1",
            receipt_due_at=shipped + H,
        ),
        shipped,
    )
    yield (
        ReceiptConfirmed(
            ticket_id=ticket, confirmed_by=rep, confirmed_at=shipped + H / 2, on_time=True
        ),
        shipped + H / 2,
    )
    yield (
        TicketRated(
            ticket_id=ticket,
            rated_by=rep,
            stars=rng.choice([2, 4, 5, 5]),
            comment=None,
            team_ids=[team, "logistics"],
            rated_at=shipped + H,
        ),
        shipped + H,
    )


def _finance(
    rng: random.Random, n: int, cid: str, at: datetime
) -> Iterator[tuple[IntegrationEvent, datetime]]:
    amount = Decimal(rng.randrange(100, 900) * 1000)
    yield (
        InvoiceIssued(
            invoice_id=f"inv{n}", customer_id=cid, amount=amount, issued_at=at, due_at=at + 240 * H
        ),
        at,
    )
    for k in range(2):
        yield (
            PaymentReceived(
                payment_id=f"pay{n}-{k}",
                customer_id=cid,
                invoice_id=f"inv{n}",
                amount=amount / 2,
                kind=rng.choice(["natural", "natural", "natural", "rebate", "stock_push"]),
                received_at=at + (100 + 50 * k) * H,
            ),
            at + (100 + 50 * k) * H,
        )
    for k in range(2):
        yield (
            OrderPlaced(
                order_id=f"so{n}-{k}",
                customer_id=cid,
                amount=amount,
                gross_margin=amount * Decimal("0.18") - (2000 if k else 0),
                placed_at=at + k * 600 * H,
            ),
            at + k * 600 * H,
        )


def synthetic_history(directory: OrgDirectory, events: int, *, seed: int = 7) -> Iterator[Stored]:
    """At least ``events`` events: whole customer cycles, reps taken in turn."""
    rng = random.Random(seed)
    reps = [p for p in directory.people if p.has_role(Role.SALES_REP)]
    director = directory.people_with_role(Role.SALES_DIRECTOR)[0].id
    produced = 0
    n = 0
    while produced < events:
        rep = reps[n % len(reps)]
        supervisor = rep.manager or director
        start = START + timedelta(minutes=7 * n)
        for event, at in _customer_cycle(rng, n, rep.id, supervisor, director, start):
            produced += 1
            yield Stored(uuid.UUID(int=rng.getrandbits(128)), event, at)
        n += 1
