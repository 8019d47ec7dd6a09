"""The ticket aggregate of table 3: a stage machine with guards and SLA clocks.

A ticket is split among the tech groups owning the documents it needs; each group's part
is its own ``tech_answer`` stage with its own clock, so a ticket needing documents of two
groups is complete only when both answered. Then logistics starts stocking, ships, and
the requesting rep confirms receipt and rates. Pure: time, limits and calendars are
handed in; who may act is decided by the caller from the org directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pydantic import BaseModel

from contracts.collaboration import (
    DocumentsCompleted,
    InfoRequested,
    InfoSupplied,
    ReceiptConfirmed,
    StockingStarted,
    TicketAnswered,
    TicketDispatched,
    TicketEscalated,
    TicketRated,
    TicketShipped,
    TicketStage,
    TicketSubmitted,
    TicketTimedOut,
)
from salesops.problems import DomainError, Forbidden, StateConflict
from services.collaboration.sla import BusinessCalendar, add_counted_time, counted_time_between

TECH = TicketStage.TECH_ANSWER
STOCKING = TicketStage.STOCKING_START
RECEIPT = TicketStage.RECEIPT_CONFIRMATION


@dataclass(frozen=True)
class SlaRule:
    """A stage's limit and, optionally, the business hours it counts in."""

    limit: timedelta
    calendar: BusinessCalendar | None = None

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant ``duration`` of counted time after ``start``."""
        return add_counted_time(self.calendar, start, duration)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Counted time from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        return counted_time_between(self.calendar, start, end)


def stage_key(stage: TicketStage, team_id: str | None = None) -> str:
    return f"{stage.value}:{team_id}" if stage is TECH else stage.value


@dataclass(frozen=True)
class StageState:
    key: str
    stage: TicketStage
    team_id: str | None
    due_at: datetime | None  # the current window's deadline; None while paused
    paused_remaining: timedelta | None = None
    finished_at: datetime | None = None
    level: int = 0  # how many times the stage timed out

    @property
    def open(self) -> bool:
        return self.finished_at is None


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    kind: str
    customer_id: str
    requester_id: str
    product: str
    document_types: tuple[str, ...]
    stages: Mapping[str, StageState] = field(default_factory=dict)
    shipped: bool = False
    received: bool = False
    rated: bool = False
    version: int = 0

    def tech_stages(self) -> list[StageState]:
        return [s for s in self.stages.values() if s.stage is TECH]

    @property
    def documents_complete(self) -> bool:
        return all(not s.open for s in self.tech_stages())

    def stage(self, key: str) -> StageState:
        if key not in self.stages:
            raise StateConflict(f"ticket {self.ticket_id} has no {key} stage yet")
        return self.stages[key]


def _guard(actor_id: str, allowed: frozenset[str], what: str) -> None:
    if actor_id not in allowed:
        raise Forbidden(f"only {what} may do this")


def submit_ticket(
    *,
    ticket_id: str,
    kind: str,
    customer_id: str,
    requester_id: str,
    product: str,
    quantity: int,
    note: str | None,
    routing: Mapping[str, tuple[list[str], str]],
    tech: SlaRule,
    now: datetime,
) -> list[BaseModel]:
    """``routing``: tech group -> (its document types, the first owner of its chain)."""
    if not product.strip():
        raise DomainError("must not be blank", field="product")
    if quantity < 1:
        raise DomainError("must be at least 1", field="quantity")
    documents = [doc for docs, _ in routing.values() for doc in docs]
    if not documents:
        raise DomainError("tick at least one document", field="document_types")
    due = tech.add(now, tech.limit)
    return [
        TicketSubmitted(
            ticket_id=ticket_id,
            ticket_kind=kind,
            customer_id=customer_id,
            requester_id=requester_id,
            product=product.strip(),
            quantity=quantity,
            document_types=documents,
            note=(note or "").strip() or None,
            submitted_at=now,
        ),
        *(
            TicketDispatched(
                ticket_id=ticket_id,
                team_id=team,
                owner_id=owner,
                document_types=docs,
                due_at=due,
                dispatched_at=now,
            )
            for team, (docs, owner) in routing.items()
        ),
    ]


def _open_tech(ticket: Ticket, team_id: str) -> StageState:
    stage = ticket.stage(stage_key(TECH, team_id))
    if not stage.open:
        raise StateConflict(f"{team_id} has answered this ticket already")
    return stage


def answer_provided(
    ticket: Ticket,
    team_id: str,
    *,
    actor_id: str,
    allowed: frozenset[str],
    logistics: tuple[str, str],
    stocking: SlaRule,
    now: datetime,
) -> list[BaseModel]:
    """The group's documents are provided; the last group's answer completes the documents.

    ``logistics`` is (team id, first owner) of the stocking stage.
    """
    stage = _open_tech(ticket, team_id)
    _guard(actor_id, allowed, f"the {team_id} group")
    if stage.due_at is None:
        raise StateConflict("waiting for sales to supply the missing information")
    events: list[BaseModel] = [
        TicketAnswered(
            ticket_id=ticket.ticket_id,
            team_id=team_id,
            answered_by=actor_id,
            answered_at=now,
            on_time=now <= stage.due_at,
        )
    ]
    others_open = [s for s in ticket.tech_stages() if s.open and s.key != stage.key]
    if not others_open:
        team, owner = logistics
        events.append(
            DocumentsCompleted(
                ticket_id=ticket.ticket_id,
                team_id=team,
                owner_id=owner,
                completed_at=now,
                stocking_due_at=stocking.add(now, stocking.limit),
            )
        )
    return events


def request_info(
    ticket: Ticket,
    team_id: str,
    missing_items: list[str],
    *,
    actor_id: str,
    allowed: frozenset[str],
    tech: SlaRule,
    now: datetime,
) -> list[BaseModel]:
    stage = _open_tech(ticket, team_id)
    _guard(actor_id, allowed, f"the {team_id} group")
    items = [item.strip() for item in missing_items if item.strip()]
    if not items:
        raise DomainError("name at least one missing item", field="missing_items")
    if stage.due_at is None:
        raise StateConflict("already waiting for sales to supply information")
    left = tech.between(now, stage.due_at)
    return [
        InfoRequested(
            ticket_id=ticket.ticket_id,
            team_id=team_id,
            requested_by=actor_id,
            missing_items=items,
            requested_at=now,
            on_time=now <= stage.due_at,
            time_left_seconds=int(left.total_seconds()),
        )
    ]


def supply_info(
    ticket: Ticket, team_id: str, info: str, *, actor_id: str, tech: SlaRule, now: datetime
) -> list[BaseModel]:
    """Sales answers; the tech clock runs again with the time it had left."""
    stage = _open_tech(ticket, team_id)
    _guard(actor_id, frozenset({ticket.requester_id}), "the requesting rep")
    if stage.paused_remaining is None:
        raise StateConflict(f"{team_id} is not waiting for information")
    if not info.strip():
        raise DomainError("must not be blank", field="info")
    due = tech.add(now, max(stage.paused_remaining, timedelta(0)))
    return [
        InfoSupplied(
            ticket_id=ticket.ticket_id,
            team_id=team_id,
            supplied_by=actor_id,
            info=info.strip(),
            supplied_at=now,
            due_at=due,
        )
    ]


def start_stocking(
    ticket: Ticket, *, actor_id: str, allowed: frozenset[str], now: datetime
) -> list[BaseModel]:
    # Who may act is checked before the ticket's state: a refusal must not tell an
    # outsider how far the ticket has got.
    _guard(actor_id, allowed, "logistics")
    if not ticket.documents_complete or STOCKING.value not in ticket.stages:
        waiting = ", ".join(
            f"{s.team_id} ({'waiting for sales' if s.due_at is None else 'not answered'})"
            for s in ticket.tech_stages()
            if s.open
        )
        raise StateConflict(
            f"stocking starts only when the documents are complete; waiting for {waiting}"
        )
    stage = ticket.stages[STOCKING.value]
    if not stage.open:
        raise StateConflict("stocking has started already")
    assert stage.due_at is not None
    return [
        StockingStarted(
            ticket_id=ticket.ticket_id,
            started_by=actor_id,
            started_at=now,
            on_time=now <= stage.due_at,
        )
    ]


def ship(
    ticket: Ticket,
    tracking: str | None,
    *,
    actor_id: str,
    allowed: frozenset[str],
    receipt: SlaRule,
    now: datetime,
) -> list[BaseModel]:
    _guard(actor_id, allowed, "logistics")
    stocking = ticket.stages.get(STOCKING.value)
    if stocking is None or stocking.open:
        raise StateConflict("ship only after stocking has started")
    if ticket.shipped:
        raise StateConflict("the ticket was shipped already")
    return [
        TicketShipped(
            ticket_id=ticket.ticket_id,
            shipped_by=actor_id,
            shipped_at=now,
            tracking=(tracking or "").strip() or None,
            receipt_due_at=receipt.add(now, receipt.limit),
        )
    ]


def confirm_receipt(
    ticket: Ticket, *, actor_id: str, allowed: frozenset[str], now: datetime
) -> list[BaseModel]:
    _guard(actor_id, allowed, "the requesting rep")
    stage = ticket.stages.get(RECEIPT.value)
    if stage is None:
        raise StateConflict("nothing has been shipped yet")
    if not stage.open:
        raise StateConflict("receipt was confirmed already")
    assert stage.due_at is not None
    return [
        ReceiptConfirmed(
            ticket_id=ticket.ticket_id,
            confirmed_by=actor_id,
            confirmed_at=now,
            on_time=now <= stage.due_at,
        )
    ]


def rate(
    ticket: Ticket,
    stars: int,
    comment: str | None,
    team_ids: list[str],
    *,
    actor_id: str,
    now: datetime,
) -> list[BaseModel]:
    """Only the requesting rep rates, once, after confirming receipt."""
    _guard(actor_id, frozenset({ticket.requester_id}), "the requesting rep")
    if not ticket.received:
        raise StateConflict("rate the ticket once receipt is confirmed")
    if ticket.rated:
        raise StateConflict("the ticket was rated already")
    return [
        TicketRated(
            ticket_id=ticket.ticket_id,
            rated_by=actor_id,
            stars=stars,
            comment=(comment or "").strip() or None,
            team_ids=team_ids,
            rated_at=now,
        )
    ]


def stage_timed_out(
    ticket: Ticket, key: str, *, level: int, chain: list[str], rule: SlaRule, now: datetime
) -> list[BaseModel]:
    """The stage's current window passed: report it and hand it to the next owner.

    Level *n* is reported once, strictly after the n-th window; past the end of the chain
    the stage stays with its last owner and every further window is still reported.
    """
    stage = ticket.stages.get(key)
    if (
        stage is None
        or not stage.open
        or stage.due_at is None
        or stage.level != level - 1
        or now <= stage.due_at
    ):
        return []
    owner = chain[min(stage.level, len(chain) - 1)] if chain else ticket.requester_id
    next_owner = chain[level] if level < len(chain) else None
    events: list[BaseModel] = [
        TicketTimedOut(
            ticket_id=ticket.ticket_id,
            ticket_kind=ticket.kind,
            stage=stage.stage,
            owner_id=owner,
            due_at=stage.due_at,
            overdue_by_seconds=int((now - stage.due_at).total_seconds()),
            escalation_level=level,
            escalated_to_id=next_owner,
            team_id=stage.team_id,
            next_due_at=rule.add(stage.due_at, rule.limit),
        )
    ]
    if next_owner is not None:
        events.append(
            TicketEscalated(
                ticket_id=ticket.ticket_id,
                stage=stage.stage,
                team_id=stage.team_id,
                from_owner_id=owner,
                to_owner_id=next_owner,
                escalation_level=level,
                escalated_at=now,
            )
        )
    return events


def fold(events: Iterable[BaseModel]) -> Ticket | None:
    ticket: Ticket | None = None
    for version, event in enumerate(events, start=1):
        if isinstance(event, TicketSubmitted):
            ticket = Ticket(
                event.ticket_id,
                event.ticket_kind,
                event.customer_id,
                event.requester_id,
                event.product,
                tuple(event.document_types),
            )
        elif ticket is not None:
            ticket = _evolve(ticket, event)
        if ticket is not None:
            ticket = replace(ticket, version=version)
    return ticket


def _with_stage(ticket: Ticket, stage: StageState) -> Ticket:
    return replace(ticket, stages={**ticket.stages, stage.key: stage})


def _evolve(t: Ticket, e: BaseModel) -> Ticket:  # one branch per event type
    match e:
        case TicketDispatched():
            return _with_stage(t, StageState(stage_key(TECH, e.team_id), TECH, e.team_id, e.due_at))
        case TicketAnswered():
            return _with_stage(
                t, replace(t.stage(stage_key(TECH, e.team_id)), finished_at=e.answered_at)
            )
        case InfoRequested():
            stage = t.stage(stage_key(TECH, e.team_id))
            left = timedelta(seconds=e.time_left_seconds)
            return _with_stage(t, replace(stage, due_at=None, paused_remaining=left))
        case InfoSupplied():
            stage = t.stage(stage_key(TECH, e.team_id))
            return _with_stage(t, replace(stage, due_at=e.due_at, paused_remaining=None))
        case DocumentsCompleted():
            return _with_stage(
                t, StageState(STOCKING.value, STOCKING, e.team_id, e.stocking_due_at)
            )
        case StockingStarted():
            return _with_stage(t, replace(t.stage(STOCKING.value), finished_at=e.started_at))
        case TicketShipped():
            shipped = replace(t, shipped=True)
            return _with_stage(shipped, StageState(RECEIPT.value, RECEIPT, None, e.receipt_due_at))
        case ReceiptConfirmed():
            received = replace(t, received=True)
            return _with_stage(
                received, replace(t.stage(RECEIPT.value), finished_at=e.confirmed_at)
            )
        case TicketRated():
            return replace(t, rated=True)
        case TicketTimedOut():
            key = stage_key(e.stage, e.team_id)
            stage = t.stage(key)
            return _with_stage(t, replace(stage, level=e.escalation_level, due_at=e.next_due_at))
    return t
