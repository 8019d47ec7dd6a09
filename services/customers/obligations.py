"""What a customer obliges people to do, and what happens when they do not: the negotiation
join after intent is confirmed, the next required action, and contact before it goes stale.

Pure rules, like the rest of the aggregate (see customer.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from contracts.customer_actions import (
    CustomerWentStale,
    NegotiationJoinConfirmed,
    NegotiationJoinOverdue,
    NextActionCommitted,
    NextActionCompleted,
    NextActionKind,
    NextActionOverdue,
)
from salesops.policy import Thresholds
from salesops.problems import DomainError, Forbidden, StateConflict
from salesops.timers import just_after
from services.customers.customer import NOTES_MAX_CHARS, clean_text
from services.customers.customer_state import Customer


def confirm_negotiation_join(c: Customer, *, actor_id: str, now: datetime) -> list[BaseModel]:
    request = c.negotiation
    # Who may act comes before the request's state: a refusal tells an outsider nothing.
    if request is not None and actor_id != request.manager_id:
        raise Forbidden(f"only {request.manager_id}, named on the request, may confirm it")
    if request is None or request.confirmed:
        raise StateConflict("there is no negotiation join request waiting for confirmation")
    return [
        NegotiationJoinConfirmed(
            customer_id=c.customer_id,
            request_id=request.request_id,
            manager_id=actor_id,
            confirmed_at=now,
            on_time=now <= request.due_at,
        )
    ]


def negotiation_join_overdue(
    c: Customer, request_id: str, *, escalate_to: str | None, now: datetime
) -> list[BaseModel]:
    """Escalate a request still unconfirmed strictly after its due time, once."""
    request = c.negotiation
    if (
        request is None
        or request.request_id != request_id
        or request.confirmed
        or request.overdue_reported
        or now <= request.due_at
    ):
        return []
    return [
        NegotiationJoinOverdue(
            customer_id=c.customer_id,
            request_id=request_id,
            manager_id=request.manager_id,
            due_at=request.due_at,
            escalated_to_id=escalate_to,
            detected_at=now,
        )
    ]


def commit_next_action(
    c: Customer,
    kind: NextActionKind,
    description: str,
    due_at: datetime,
    *,
    actor_id: str,
    now: datetime,
) -> list[BaseModel]:
    if due_at <= now:
        raise DomainError("must lie in the future", field="due_at")
    return [
        NextActionCommitted(
            customer_id=c.customer_id,
            owner_id=c.owner_id,
            action_kind=kind,
            description=clean_text(description, "description", NOTES_MAX_CHARS),
            due_at=due_at,
            committed_by=actor_id,
            committed_at=now,
        )
    ]


def complete_next_action(c: Customer, *, now: datetime) -> list[BaseModel]:
    action = c.next_action
    if action is None or not action.open:
        raise StateConflict("the customer has no open next action to complete")
    return [
        NextActionCompleted(
            customer_id=c.customer_id,
            owner_id=c.owner_id,
            action_kind=action.kind,
            due_at=action.due_at,
            completed_at=now,
            on_time=now <= action.due_at,
        )
    ]


def next_action_overdue(c: Customer, due_at: datetime, *, now: datetime) -> list[BaseModel]:
    """Report the open next action overdue once, strictly after its due time."""
    action = c.next_action
    if (
        action is None
        or not action.open
        or action.overdue_reported
        or action.due_at != due_at
        or now <= action.due_at
    ):
        return []
    return [
        NextActionOverdue(
            customer_id=c.customer_id,
            owner_id=c.owner_id,
            action_kind=action.kind,
            due_at=action.due_at,
            detected_at=now,
        )
    ]


def went_stale(c: Customer, *, thresholds: Thresholds, now: datetime) -> list[BaseModel]:
    """Flag the customer once it has gone more than the stale period without contact."""
    if c.stale or not thresholds.is_stale(c.contact_baseline, now):
        return []
    return [
        CustomerWentStale(
            customer_id=c.customer_id,
            owner_id=c.owner_id,
            last_contact_at=c.contact_baseline,
            detected_at=now,
        )
    ]


def stale_check_due(contact_baseline: datetime, thresholds: Thresholds) -> datetime:
    """The first instant a customer last contacted at ``contact_baseline`` is stale."""
    return just_after(contact_baseline + thresholds.stale_after)
