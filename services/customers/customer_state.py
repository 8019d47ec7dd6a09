"""The customer aggregate's state, folded from its events (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
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
    FollowUpLogged,
)


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
