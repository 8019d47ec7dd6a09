"""March 2026 at the sample company of ``deploy/org.yaml``, as the events the figures come from.

Hand-computed figures (see the tests that load it):

- penetration: customers worth 600k (张伟, A), 300k (王芳, B) and 100k (陈静, A) against
  HQ's 2,000,000 target = 50.00%; 华东一组 900k / 1,200,000 = 75.00%; 张伟 600k / 700k = 85.71%.
- trace: follow-ups fu-1 (traced), fu-2 (not), fu-3 (traced), an imported one (not
  measured); tasks t1 (submitted with evidence), t2 (overdue), t3 (not due yet) ->
  3 / 5 = 60.00%; 张伟 2 / 3 = 66.67%; 陈静 has no records: no data. February: fu-0 (traced).
- on-time: ticket k1's tech answer and stocking on time, its receipt late; k2's tech
  answer timed out and still open -> 2 / 4 = 50.00%; 张伟 2 / 3 = 66.67%.
- attention: c2 went stale, c3 was flagged red at the morning meeting.
- activity: A-tier follow-ups fu-1, fu-2 over the A customers c1, c3 = 1.00 per customer;
  next actions 1 of 2 on time = 50.00%; daily-report validity t1 of t1, t2 = 50.00%;
  progress reports 1 of 2 answered in time = 50.00%; concessions over the threshold 3
  (1 approved, 1 rejected, 1 pending); sample delivery k1 1.5 days; tech answer k1 72
  minutes; k1 rated 2 stars for tech-electrical and logistics.
- health: invoices due 400k + 100k, payments 300k natural + 100k rebate + 50k stock push
  -> collection 90.00%, natural share 66.67%; c1 ordered again 45 days after its first
  order (January); March's first orders: c2 30k margin on 100k, c3 -5k on 50k -> 16.67%.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from nats.js import JetStreamContext

from contracts.base import IntegrationEvent
from contracts.collaboration import (
    DocumentsCompleted,
    ReceiptConfirmed,
    StockingStarted,
    TicketAnswered,
    TicketDispatched,
    TicketRated,
    TicketShipped,
    TicketSubmitted,
    TicketTimedOut,
)
from contracts.customer_actions import (
    CustomerWentStale,
    NextActionCompleted,
    NextActionOverdue,
    NextActionsNotUpdated,
)
from contracts.customer_reports import (
    ProgressReported,
    SupportAnswered,
    SupportAnswerOverdue,
    TargetAllocated,
    TargetShare,
)
from contracts.customers import CustomerRegistered, FollowUpLogged
from contracts.envelope import Envelope
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
from salesops.testing.events import publish_event

MARCH = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
DIRECTOR, LEAD = "sd-zhao-guoqiang", "gl-li-na"
ZHANG, WANG, CHEN = "rep-zhang-wei", "rep-wang-fang", "rep-chen-jing"


E = TypeVar("E", bound=IntegrationEvent)


def ev(cls: type[E], **update: Any) -> E:
    """The contract's example with ``update`` applied, validated like a received event."""
    return cls.model_validate({**cls.examples()[0].model_dump(), **update})


def at(days: float) -> datetime:
    return MARCH + timedelta(days=days)


def customer(customer_id: str, owner: str, tier: str, amount: str) -> CustomerRegistered:
    return ev(
        CustomerRegistered,
        customer_id=customer_id,
        owner_id=owner,
        tier=tier,
        estimated_contribution=Decimal(amount),
        registered_at=at(-1),
    )


def split(parent: str, amount: int, *shares: tuple[str, str, int]) -> TargetAllocated:
    return ev(
        TargetAllocated,
        parent_id=parent,
        period="2026-03",
        parent_amount=Decimal(amount),
        shares=[TargetShare(node_id=n, node_kind=k, amount=Decimal(a)) for n, k, a in shares],
        allocated_at=at(-1),
    )


def follow_up(fu: str, customer_id: str, owner: str, days: float, **update: Any) -> Any:
    values = {"competitor_notes": "竞品报价低 8%", "decision_chain_change": None, **update}
    return ev(
        FollowUpLogged,
        follow_up_id=fu,
        customer_id=customer_id,
        owner_id=owner,
        contacted_at=at(days),
        **values,
    )


def task(task_id: str, customer_id: str, rep: str, days: float) -> TaskPlanned:
    return ev(
        TaskPlanned,
        task_id=task_id,
        customer_id=customer_id,
        rep_id=rep,
        kind="visit",
        scheduled_at=at(days),
    )


def customers_history() -> list[IntegrationEvent]:
    unit, rep = "org_unit", "rep"
    return [
        customer("c1", ZHANG, "A", "600000"),
        customer("c2", WANG, "B", "300000"),
        customer("c3", CHEN, "A", "100000"),
        split("hq", 2_000_000, ("region-east", unit, 2_000_000), ("region-south", unit, 0)),
        split(
            "region-east",
            2_000_000,
            ("group-east-1", unit, 1_200_000),
            ("group-east-2", unit, 800_000),
        ),
        split(
            "group-east-1",
            1_200_000,
            (ZHANG, rep, 700_000),
            (WANG, rep, 500_000),
            ("rep-liu-yang", rep, 0),
        ),
        follow_up("fu-0", "c1", ZHANG, -10),  # February
        follow_up("fu-1", "c1", ZHANG, 1),
        follow_up("fu-2", "c1", ZHANG, 2, competitor_notes=None),
        follow_up("fu-3", "c2", WANG, 3, decision_chain_change="换了采购总监"),
        follow_up("fu-4", "c3", CHEN, 3, kind="imported"),
        ev(
            CustomerWentStale,
            customer_id="c2",
            owner_id=WANG,
            last_contact_at=at(3),
            detected_at=at(11),
        ),
        ev(NextActionsNotUpdated, rep_id=CHEN, customer_ids=["c3"], meeting_at=at(12)),
    ]


def tasks_history() -> list[IntegrationEvent]:
    overdue = OpenTask(
        task_id="t2", customer_id="c2", kind="visit", title="拜访", scheduled_at=at(4)
    )
    return [
        task("t1", "c1", ZHANG, 4),
        ev(
            TaskSubmitted,
            task_id="t1",
            customer_id="c1",
            rep_id=ZHANG,
            kind="visit",
            scheduled_at=at(4),
            submitted_at=at(4.1),
            evidence_compliant=True,
            locked=False,
        ),
        task("t2", "c2", WANG, 4),
        ev(
            TasksOverdue,
            rep_id=WANG,
            supervisor_id=LEAD,
            deadline_at=at(4.5),
            overdue_tasks=[overdue],
        ),
        task("t3", "c3", CHEN, 30),
    ]


def tickets_history() -> list[IntegrationEvent]:
    team = "tech-electrical"
    return [
        ev(
            TicketSubmitted,
            ticket_id="k1",
            customer_id="c1",
            requester_id=ZHANG,
            submitted_at=at(5),
        ),
        ev(TicketDispatched, ticket_id="k1", team_id=team, dispatched_at=at(5), due_at=at(5.1)),
        ev(TicketAnswered, ticket_id="k1", team_id=team, answered_at=at(5.05), on_time=True),
        ev(DocumentsCompleted, ticket_id="k1", completed_at=at(5.05), stocking_due_at=at(5.2)),
        ev(StockingStarted, ticket_id="k1", started_at=at(5.1), on_time=True),
        ev(TicketShipped, ticket_id="k1", shipped_at=at(6), receipt_due_at=at(6.04)),
        ev(
            TicketTimedOut,
            ticket_id="k1",
            stage="receipt_confirmation",
            team_id=None,
            due_at=at(6.04),
        ),
        ev(ReceiptConfirmed, ticket_id="k1", confirmed_at=at(6.5), on_time=False),
        ev(
            TicketSubmitted, ticket_id="k2", customer_id="c3", requester_id=CHEN, submitted_at=at(7)
        ),
        ev(TicketDispatched, ticket_id="k2", team_id=team, dispatched_at=at(7), due_at=at(7.1)),
        ev(TicketTimedOut, ticket_id="k2", stage="tech_answer", team_id=team, due_at=at(7.1)),
    ]


def activity_history() -> list[IntegrationEvent]:
    """Records beside the three indicators: none of them moves those."""
    concessions: list[IntegrationEvent] = []
    for task_id, rep, pct, decision in (
        ("q1", ZHANG, "14.00", ConcessionApproved),
        ("q2", WANG, "13.00", ConcessionRejected),
        ("q3", ZHANG, "15.00", None),
    ):
        values = {"task_id": task_id, "rep_id": rep, "concession_pct": Decimal(pct)}
        concessions.append(ev(ConcessionExceeded, **values))
        if decision is not None:
            concessions.append(ev(decision, decided_by=DIRECTOR, decided_at=at(9), **values))

    def report(report_id: str, customer_id: str, rep: str, obstacle: str, days: float) -> Any:
        return ev(
            ProgressReported,
            report_id=report_id,
            customer_id=customer_id,
            rep_id=rep,
            supervisor_id=LEAD,
            obstacle=obstacle,
            reported_at=at(days),
            answer_due_at=at(days + 0.2),
        )

    return [
        ev(
            NextActionCompleted,
            customer_id="c1",
            owner_id=ZHANG,
            due_at=at(3),
            completed_at=at(2.5),
            on_time=True,
        ),
        ev(NextActionOverdue, customer_id="c2", owner_id=WANG, due_at=at(4), detected_at=at(4)),
        report("pr-1", "c1", ZHANG, "competitor_price_pressure", 2),
        ev(SupportAnswered, report_id="pr-1", customer_id="c1", answered_at=at(2.1), on_time=True),
        report("pr-2", "c2", WANG, "budget_frozen", 3),
        ev(SupportAnswerOverdue, report_id="pr-2", customer_id="c2", due_at=at(3.2)),
        *concessions,
        ev(
            TicketRated,
            ticket_id="k1",
            rated_by=ZHANG,
            stars=2,
            team_ids=["tech-electrical", "logistics"],
            rated_at=at(7),
        ),
    ]


def finance_history() -> list[IntegrationEvent]:
    def invoice(invoice_id: str, customer_id: str, amount: int, due: float) -> Any:
        return ev(
            InvoiceIssued,
            invoice_id=invoice_id,
            customer_id=customer_id,
            amount=Decimal(amount),
            due_at=at(due),
        )

    def payment(payment_id: str, customer_id: str, amount: int, kind: str, days: float) -> Any:
        return ev(
            PaymentReceived,
            payment_id=payment_id,
            customer_id=customer_id,
            amount=Decimal(amount),
            kind=kind,
            received_at=at(days),
        )

    def order(order_id: str, customer_id: str, days: float, amount: int, margin: int) -> Any:
        return ev(
            OrderPlaced,
            order_id=order_id,
            customer_id=customer_id,
            amount=Decimal(amount),
            gross_margin=Decimal(margin),
            placed_at=at(days),
        )

    return [
        invoice("inv-1", "c1", 400_000, 10),
        invoice("inv-2", "c2", 100_000, 20),
        payment("pay-1", "c1", 300_000, "natural", 12),
        payment("pay-2", "c2", 100_000, "rebate", 15),
        payment("pay-3", "c3", 50_000, "stock_push", 16),
        order("so-1", "c1", -30, 200_000, 40_000),
        order("so-2", "c1", 15, 300_000, 45_000),
        order("so-3", "c2", 3, 100_000, 30_000),
        order("so-4", "c3", 8, 50_000, -5_000),
    ]


#: When the events were recorded (the envelopes' time): the clock's "now" of the tests.
RECORDED_AT = at(18)


async def publish_all(
    js: JetStreamContext, namespace: str, events: Iterable[IntegrationEvent]
) -> list[Envelope]:
    return [
        await publish_event(js, namespace, event, subject_id=f"s-{i}", time=RECORDED_AT)
        for i, event in enumerate(events)
    ]


def march_history() -> list[IntegrationEvent]:
    return [
        *customers_history(),
        *tasks_history(),
        *tickets_history(),
        *activity_history(),
        *finance_history(),
    ]
