"""The customer aggregate of table 1: pure rules, no I/O, no clock reads.

Each command is a function of the customer's current state and the command (the time,
the actor and the policy numbers are handed in); it returns the events that record the
decision, or raises a :class:`~salesops.problems.DomainError` naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from contracts.customer_actions import (
    CustomerWentStale,
    NegotiationJoinConfirmed,
    NegotiationJoinOverdue,
    NegotiationJoinRequested,
    NextActionCommitted,
    NextActionCompleted,
    NextActionKind,
    NextActionOverdue,
)
from contracts.customers import (
    CustomerDetailsUpdated,
    CustomerReassigned,
    CustomerRegistered,
    CustomerTier,
    CustomerTierChanged,
    DecisionState,
    DecisionStateChanged,
    FollowUpKind,
    FollowUpLogged,
)
from salesops.policy import Thresholds
from salesops.problems import DomainError, Forbidden, StateConflict
from salesops.timers import just_after

NAME_MAX_CHARS = 200
NOTES_MAX_CHARS = 2000


@dataclass(frozen=True)
class NextAction:
    kind: NextActionKind
    description: str
    due_at: datetime
    completed_at: datetime | None = None
    overdue_reported: bool = False

    @property
    def open(self) -> bool:
        return self.completed_at is None


@dataclass(frozen=True)
class NegotiationRequest:
    request_id: str
    manager_id: str
    due_at: datetime
    confirmed: bool = False
    overdue_reported: bool = False


@dataclass(frozen=True)
class Customer:
    """A customer as folded from its stream."""

    customer_id: str
    name: str
    tier: CustomerTier
    owner_id: str
    org_unit_id: str
    estimated_contribution: Decimal
    external_key: str | None
    registered_at: datetime
    decision_state: DecisionState | None = None
    last_contact_at: datetime | None = None
    stale: bool = False
    next_action: NextAction | None = None
    negotiation: NegotiationRequest | None = None
    version: int = 0

    @property
    def contact_baseline(self) -> datetime:
        """What staleness counts from: the last contact, or registration if never contacted."""
        return self.last_contact_at or self.registered_at


def _text(value: str, field: str, max_chars: int, *, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise DomainError("must not be blank", field=field)
    if len(text) > max_chars:  # characters, not bytes: 张 counts as one
        raise DomainError(f"is {len(text)} characters; at most {max_chars}", field=field)
    return text


def _optional_text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    return _text(value, field, NOTES_MAX_CHARS, required=False) or None


def register_customer(
    *,
    customer_id: str,
    name: str,
    tier: CustomerTier,
    owner_id: str,
    org_unit_id: str,
    estimated_contribution: Decimal,
    external_key: str | None,
    actor_id: str,
    now: datetime,
) -> list[BaseModel]:
    if estimated_contribution < 0:
        raise DomainError("must not be negative", field="estimated_contribution")
    return [
        CustomerRegistered(
            customer_id=customer_id,
            external_key=external_key,
            name=_text(name, "name", NAME_MAX_CHARS),
            tier=tier,
            owner_id=owner_id,
            org_unit_id=org_unit_id,
            estimated_contribution=estimated_contribution,
            registered_by=actor_id,
            registered_at=now,
        )
    ]


def change_tier(
    c: Customer, tier: CustomerTier, *, actor_id: str, now: datetime
) -> list[BaseModel]:
    if c.tier == tier:
        return []
    return [
        CustomerTierChanged(
            customer_id=c.customer_id,
            from_tier=c.tier,
            to_tier=tier,
            changed_by=actor_id,
            changed_at=now,
        )
    ]


def reassign(
    c: Customer, owner_id: str, org_unit_id: str, *, actor_id: str, now: datetime
) -> list[BaseModel]:
    if (c.owner_id, c.org_unit_id) == (owner_id, org_unit_id):
        return []
    return [
        CustomerReassigned(
            customer_id=c.customer_id,
            from_owner_id=c.owner_id,
            to_owner_id=owner_id,
            org_unit_id=org_unit_id,
            reassigned_by=actor_id,
            reassigned_at=now,
        )
    ]


def update_details(
    c: Customer, name: str, estimated_contribution: Decimal, *, actor_id: str, now: datetime
) -> list[BaseModel]:
    name = _text(name, "name", NAME_MAX_CHARS)
    if estimated_contribution < 0:
        raise DomainError("must not be negative", field="estimated_contribution")
    if (c.name, c.estimated_contribution) == (name, estimated_contribution):
        return []
    return [
        CustomerDetailsUpdated(
            customer_id=c.customer_id,
            name=name,
            estimated_contribution=estimated_contribution,
            updated_by=actor_id,
            updated_at=now,
        )
    ]


def log_follow_up(
    c: Customer,
    *,
    follow_up_id: str,
    kind: FollowUpKind,
    contacted_at: datetime,
    notes: str,
    competitor_notes: str | None,
    decision_chain_change: str | None,
    actor_id: str,
    now: datetime,
) -> list[BaseModel]:
    """Record a contact; the last contact time is the newest contact, whatever the order."""
    if contacted_at > now:
        raise DomainError("lies in the future", field="contacted_at")
    last = max(contacted_at, c.last_contact_at) if c.last_contact_at else contacted_at
    return [
        FollowUpLogged(
            customer_id=c.customer_id,
            follow_up_id=follow_up_id,
            owner_id=c.owner_id,
            kind=kind,
            contacted_at=contacted_at,
            notes=_text(notes, "notes", NOTES_MAX_CHARS, required=kind != FollowUpKind.IMPORTED),
            competitor_notes=_optional_text(competitor_notes, "competitor_notes"),
            decision_chain_change=_optional_text(decision_chain_change, "decision_chain_change"),
            last_contact_at=last,
            logged_by=actor_id,
            logged_at=now,
        )
    ]


def change_decision_state(
    c: Customer,
    to_state: DecisionState,
    *,
    manager_id: str | None,
    request_id: str,
    join_window: timedelta,
    actor_id: str,
    now: datetime,
) -> list[BaseModel]:
    """Move the key person's decision state; the same state again changes nothing.

    Becoming ``intent_confirmed`` asks the owner's sales manager (``manager_id``) to join the
    second quote negotiation within ``join_window``.
    """
    if c.decision_state == to_state:
        return []
    events: list[BaseModel] = [
        DecisionStateChanged(
            customer_id=c.customer_id,
            customer_name=c.name,
            owner_id=c.owner_id,
            org_unit_id=c.org_unit_id,
            from_state=c.decision_state,
            to_state=to_state,
            changed_by=actor_id,
            changed_at=now,
        )
    ]
    if to_state == DecisionState.INTENT_CONFIRMED and manager_id is not None:
        events.append(
            NegotiationJoinRequested(
                customer_id=c.customer_id,
                request_id=request_id,
                customer_name=c.name,
                owner_id=c.owner_id,
                manager_id=manager_id,
                requested_at=now,
                due_at=now + join_window,
            )
        )
    return events


def confirm_negotiation_join(c: Customer, *, actor_id: str, now: datetime) -> list[BaseModel]:
    request = c.negotiation
    if request is None or request.confirmed:
        raise StateConflict("there is no negotiation join request waiting for confirmation")
    if actor_id != request.manager_id:
        raise Forbidden(f"only {request.manager_id}, named on the request, may confirm it")
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
            description=_text(description, "description", NOTES_MAX_CHARS),
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


def fold(events: Iterable[BaseModel]) -> Customer | None:
    """The customer after ``events`` (oldest first), or None if it was never registered."""
    c: Customer | None = None
    for version, event in enumerate(events, start=1):
        if isinstance(event, CustomerRegistered):
            c = Customer(
                customer_id=event.customer_id,
                name=event.name,
                tier=event.tier,
                owner_id=event.owner_id,
                org_unit_id=event.org_unit_id,
                estimated_contribution=event.estimated_contribution,
                external_key=event.external_key,
                registered_at=event.registered_at,
            )
        elif c is not None:
            c = _evolve(c, event)
        if c is not None:
            c = replace(c, version=version)
    return c


def _evolve(c: Customer, event: BaseModel) -> Customer:
    match event:
        case CustomerTierChanged():
            return replace(c, tier=event.to_tier)
        case CustomerReassigned():
            return replace(c, owner_id=event.to_owner_id, org_unit_id=event.org_unit_id)
        case CustomerDetailsUpdated():
            return replace(c, name=event.name, estimated_contribution=event.estimated_contribution)
        case FollowUpLogged():
            # A new contact ends staleness; a late-logged old contact does not.
            renewed = c.last_contact_at is None or event.last_contact_at > c.last_contact_at
            return replace(c, last_contact_at=event.last_contact_at, stale=c.stale and not renewed)
        case DecisionStateChanged():
            return replace(c, decision_state=event.to_state)
        case NegotiationJoinRequested():
            return replace(
                c, negotiation=NegotiationRequest(event.request_id, event.manager_id, event.due_at)
            )
        case NegotiationJoinConfirmed() if c.negotiation is not None:
            return replace(c, negotiation=replace(c.negotiation, confirmed=True))
        case NegotiationJoinOverdue() if c.negotiation is not None:
            return replace(c, negotiation=replace(c.negotiation, overdue_reported=True))
        case NextActionCommitted():
            return replace(
                c, next_action=NextAction(event.action_kind, event.description, event.due_at)
            )
        case NextActionCompleted() if c.next_action is not None:
            return replace(c, next_action=replace(c.next_action, completed_at=event.completed_at))
        case NextActionOverdue() if c.next_action is not None:
            return replace(c, next_action=replace(c.next_action, overdue_reported=True))
        case CustomerWentStale():
            return replace(c, stale=True)
    return c
