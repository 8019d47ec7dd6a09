"""The customer aggregate: pure rules, no I/O, no clock reads.

A command function takes the current state and the command (plus the time and the
actor, handed in) and returns the events that record the decision, or raises a
:class:`~salesops.problems.DomainError` naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from contracts.customers import (
    CustomerRegistered,
    CustomerTier,
    DecisionState,
    DecisionStateChanged,
)
from salesops.problems import DomainError


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
    decision_state: DecisionState | None
    version: int


@dataclass(frozen=True)
class RegisterCustomer:
    customer_id: str
    name: str
    tier: CustomerTier
    owner_id: str
    org_unit_id: str
    estimated_contribution: Decimal
    external_key: str | None = None


@dataclass(frozen=True)
class ChangeDecisionState:
    customer_id: str
    to_state: DecisionState


def register_customer(
    command: RegisterCustomer, *, actor_id: str, now: datetime
) -> list[BaseModel]:
    """Register a new customer."""
    name = command.name.strip()
    if not name:
        raise DomainError("must not be blank", field="name")
    if command.estimated_contribution < 0:
        raise DomainError("must not be negative", field="estimated_contribution")
    return [
        CustomerRegistered(
            customer_id=command.customer_id,
            external_key=command.external_key,
            name=name,
            tier=command.tier,
            owner_id=command.owner_id,
            org_unit_id=command.org_unit_id,
            estimated_contribution=command.estimated_contribution,
            registered_by=actor_id,
            registered_at=now,
        )
    ]


def change_decision_state(
    customer: Customer, command: ChangeDecisionState, *, actor_id: str, now: datetime
) -> list[BaseModel]:
    """Move the key person's decision state; setting the current state again changes nothing."""
    if customer.decision_state == command.to_state:
        return []
    return [
        DecisionStateChanged(
            customer_id=customer.customer_id,
            customer_name=customer.name,
            owner_id=customer.owner_id,
            org_unit_id=customer.org_unit_id,
            from_state=customer.decision_state,
            to_state=command.to_state,
            changed_by=actor_id,
            changed_at=now,
        )
    ]


def fold(events: Iterable[BaseModel]) -> Customer | None:
    """The customer after ``events``, or None if it was never registered."""
    customer: Customer | None = None
    for version, event in enumerate(events, start=1):
        match event:
            case CustomerRegistered():
                customer = Customer(
                    customer_id=event.customer_id,
                    name=event.name,
                    tier=event.tier,
                    owner_id=event.owner_id,
                    org_unit_id=event.org_unit_id,
                    estimated_contribution=event.estimated_contribution,
                    external_key=event.external_key,
                    decision_state=None,
                    version=version,
                )
            case DecisionStateChanged() if customer is not None:
                customer = replace(customer, decision_state=event.to_state, version=version)
            case _ if customer is not None:
                customer = replace(customer, version=version)
    return customer
