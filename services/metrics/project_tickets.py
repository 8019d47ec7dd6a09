"""What the events of table 3 (collaboration) change in the metrics facts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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
    TicketStage,
    TicketSubmitted,
    TicketTimedOut,
)
from services.metrics import facts as f
from services.metrics.facts import Change, EventMeta, Projections

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _seconds(at: datetime) -> Decimal:
    """An instant as exact seconds since the epoch (microseconds kept)."""
    delta = at - _EPOCH
    return Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)


def _stage_key(stage: TicketStage | str, team_id: str | None) -> str:
    return f"{stage}:{team_id}" if stage == TicketStage.TECH_ANSWER else str(stage)


def _stage(ticket_id: str, stage: TicketStage, team_id: str | None, **values: Any) -> Change:
    values = {"stage": str(stage), **values}
    if team_id is not None:
        values["team_id"] = team_id
    return Change(f.STAGES, (ticket_id, _stage_key(stage, team_id)), values)


def _ticket(e: TicketSubmitted, meta: EventMeta) -> list[Change]:
    values = {
        "customer_id": e.customer_id,
        "requester_id": e.requester_id,
        "kind": e.ticket_kind,
        "product": e.product,
        "submitted_at": e.submitted_at,
    }
    return [Change(f.TICKETS, (e.ticket_id,), values)]


def _dispatched(e: TicketDispatched, meta: EventMeta) -> list[Change]:
    return [
        _stage(
            e.ticket_id,
            TicketStage.TECH_ANSWER,
            e.team_id,
            owner_id=e.owner_id,
            started_at=e.dispatched_at,
            due_at=e.due_at,
        )
    ]


def _tech_answered(e: TicketAnswered, meta: EventMeta) -> list[Change]:
    values = {"finished_at": e.answered_at, "on_time": e.on_time}
    return [_stage(e.ticket_id, TicketStage.TECH_ANSWER, e.team_id, **values)]


def _info_requested(e: InfoRequested, meta: EventMeta) -> list[Change]:
    values = {"paused_seconds": -_seconds(e.requested_at), "open_info_requests": 1}
    return [_stage(e.ticket_id, TicketStage.TECH_ANSWER, e.team_id, **values)]


def _info_supplied(e: InfoSupplied, meta: EventMeta) -> list[Change]:
    values = {
        "paused_seconds": _seconds(e.supplied_at),
        "open_info_requests": -1,
        "due_at": e.due_at,
    }
    return [_stage(e.ticket_id, TicketStage.TECH_ANSWER, e.team_id, **values)]


def _documents_complete(e: DocumentsCompleted, meta: EventMeta) -> list[Change]:
    values = {"owner_id": e.owner_id, "started_at": e.completed_at, "due_at": e.stocking_due_at}
    return [_stage(e.ticket_id, TicketStage.STOCKING_START, e.team_id, **values)]


def _stocking(e: StockingStarted, meta: EventMeta) -> list[Change]:
    values = {"finished_at": e.started_at, "on_time": e.on_time}
    return [_stage(e.ticket_id, TicketStage.STOCKING_START, None, **values)]


def _shipped(e: TicketShipped, meta: EventMeta) -> list[Change]:
    values = {"started_at": e.shipped_at, "due_at": e.receipt_due_at}
    return [_stage(e.ticket_id, TicketStage.RECEIPT_CONFIRMATION, None, **values)]


def _receipt(e: ReceiptConfirmed, meta: EventMeta) -> list[Change]:
    values = {"finished_at": e.confirmed_at, "on_time": e.on_time}
    return [
        _stage(e.ticket_id, TicketStage.RECEIPT_CONFIRMATION, None, **values),
        Change(f.TICKETS, (e.ticket_id,), {"receipt_confirmed_at": e.confirmed_at}),
    ]


def _timed_out(e: TicketTimedOut, meta: EventMeta) -> list[Change]:
    return [_stage(e.ticket_id, e.stage, e.team_id, timed_out=True)]


def _rated(e: TicketRated, meta: EventMeta) -> list[Change]:
    rating = {"stars": e.stars, "rated_by": e.rated_by, "rated_at": e.rated_at}
    return [
        Change(f.TICKETS, (e.ticket_id,), {"stars": e.stars, "rated_at": e.rated_at}),
        *(Change(f.RATINGS, (e.ticket_id, team), rating) for team in e.team_ids),
    ]


PROJECTIONS: Projections = {
    TicketSubmitted: _ticket,
    TicketDispatched: _dispatched,
    TicketAnswered: _tech_answered,
    InfoRequested: _info_requested,
    InfoSupplied: _info_supplied,
    DocumentsCompleted: _documents_complete,
    StockingStarted: _stocking,
    TicketShipped: _shipped,
    ReceiptConfirmed: _receipt,
    TicketTimedOut: _timed_out,
    TicketRated: _rated,
}
