"""The customer aggregate of table 1: pure rules, no I/O, no clock reads.

Each command is a function of the customer's current state and the command (the time,
the actor and the policy numbers are handed in); it returns the events that record the
decision, or raises a :class:`~salesops.problems.DomainError` naming the field at fault.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from contracts.customer_actions import (
    NegotiationJoinRequested,
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
from salesops.problems import DomainError
from services.customers.customer_state import Customer

NAME_MAX_CHARS = 200
NOTES_MAX_CHARS = 2000


def clean_text(value: str, field: str, max_chars: int, *, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise DomainError("must not be blank", field=field)
    if len(text) > max_chars:  # characters, not bytes: 张 counts as one
        raise DomainError(f"is {len(text)} characters; at most {max_chars}", field=field)
    return text


def _optional_text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    return clean_text(value, field, NOTES_MAX_CHARS, required=False) or None


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
            name=clean_text(name, "name", NAME_MAX_CHARS),
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
    name = clean_text(name, "name", NAME_MAX_CHARS)
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
            notes=clean_text(
                notes, "notes", NOTES_MAX_CHARS, required=kind != FollowUpKind.IMPORTED
            ),
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
