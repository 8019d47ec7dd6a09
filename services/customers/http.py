"""HTTP adapter of the customers service: request/response models and routes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.customers import CustomerTier, DecisionState
from contracts.fields import Money
from salesops.auth import Actor, current_actor
from services.customers.handlers import CustomerService

router = APIRouter(prefix="/customers", tags=["customers"])

ActorDep = Annotated[Actor, Depends(current_actor)]
CorrelationId = Annotated[
    str | None, Header(alias="X-Correlation-Id", description="Joins the events of one flow")
]


def customer_service(request: Request) -> CustomerService:
    service: CustomerService = request.app.state.service
    return service


ServiceDep = Annotated[CustomerService, Depends(customer_service)]


class RegisterCustomerRequest(BaseModel):
    """A new customer for table 1."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["宁波精密模具有限公司"])
    tier: CustomerTier = Field(examples=["A"])
    estimated_contribution: Money = Field(
        description="Estimated contribution this period, as a decimal string",
        examples=["1200000.00"],
    )
    owner_id: str | None = Field(
        default=None, max_length=128, description="The owning rep; defaults to you"
    )
    org_unit_id: str | None = Field(
        default=None, max_length=128, description="Defaults to the owner's org unit"
    )
    external_key: str | None = Field(
        default=None, min_length=1, max_length=128, description="Key in the CRM/ERP it came from"
    )


class ChangeDecisionStateRequest(BaseModel):
    """The key person's new decision state."""

    model_config = ConfigDict(extra="forbid")

    state: DecisionState = Field(examples=["intent_confirmed"])
    expected_version: int | None = Field(
        default=None,
        ge=1,
        description="The version you saw; a stale one is refused with 409 instead of overwriting",
    )


class CustomerView(BaseModel):
    """A customer row of table 1."""

    customer_id: str
    external_key: str | None
    name: str
    tier: CustomerTier
    owner_id: str
    org_unit_id: str
    estimated_contribution: Money
    decision_state: DecisionState | None
    last_contact_at: datetime | None
    registered_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> CustomerView:
        data: dict[str, Any] = dict(row)
        data["estimated_contribution"] = Decimal(data["estimated_contribution"])
        return cls.model_validate(data)


@router.post("", status_code=201, response_model=CustomerView, summary="Register a customer")
async def register_customer(
    body: RegisterCustomerRequest,
    actor: ActorDep,
    service: ServiceDep,
    response: Response,
    correlation_id: CorrelationId = None,
) -> CustomerView:
    row = await service.register(actor, **body.model_dump(), correlation_id=correlation_id)
    response.headers["Location"] = f"/customers/{row['customer_id']}"
    return CustomerView.of(row)


@router.get(
    "",
    response_model=list[CustomerView],
    summary="Customers you oversee, least recently contacted first",
)
async def list_customers(
    actor: ActorDep,
    service: ServiceDep,
    owner_id: str | None = None,
    decision_state: DecisionState | None = None,
    tier: CustomerTier | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CustomerView]:
    rows = await service.list(
        actor,
        owner_id=owner_id,
        decision_state=decision_state.value if decision_state else None,
        tier=tier.value if tier else None,
        limit=limit,
        offset=offset,
    )
    return [CustomerView.of(row) for row in rows]


@router.get("/{customer_id}", response_model=CustomerView, summary="One customer")
async def get_customer(customer_id: str, actor: ActorDep, service: ServiceDep) -> CustomerView:
    return CustomerView.of(await service.get(actor, customer_id))


@router.put(
    "/{customer_id}/decision-state",
    response_model=CustomerView,
    summary="Change the decision state",
)
async def change_decision_state(
    customer_id: str,
    body: ChangeDecisionStateRequest,
    actor: ActorDep,
    service: ServiceDep,
    correlation_id: CorrelationId = None,
) -> CustomerView:
    row = await service.change_decision_state(
        actor,
        customer_id,
        to_state=body.state,
        expected_version=body.expected_version,
        correlation_id=correlation_id,
    )
    return CustomerView.of(row)
