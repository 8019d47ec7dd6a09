"""HTTP adapter of table 1: customers, follow-ups, decision state, next actions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.customer_actions import NextActionKind
from contracts.customers import CustomerTier, DecisionState, FollowUpKind
from contracts.fields import Money
from salesops.access import people_overseen
from salesops.auth import Actor, current_actor
from salesops.inputs import MAX_OFFSET, Instant
from salesops.problems import Forbidden
from services.customers import queries
from services.customers.handlers import CustomerService

router = APIRouter(prefix="/customers", tags=["customers"])

ActorDep = Annotated[Actor, Depends(current_actor)]
CorrelationId = Annotated[
    str | None, Header(alias="X-Correlation-Id", description="Joins the events of one flow")
]


async def customer_service(request: Request) -> CustomerService:
    service: CustomerService = request.app.state.service.customers
    return service


ServiceDep = Annotated[CustomerService, Depends(customer_service)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterCustomerRequest(Command):
    """A new customer for table 1."""

    name: str = Field(min_length=1, max_length=200, examples=["宁波精密模具有限公司"])
    tier: CustomerTier = Field(examples=["A"])
    estimated_contribution: Money = Field(
        description="Estimated contribution this period, a decimal string", examples=["1200000.00"]
    )
    owner_id: str | None = Field(default=None, max_length=128, description="Defaults to you")
    org_unit_id: str | None = Field(
        default=None, max_length=128, description="Defaults to the owner's org unit"
    )
    external_key: str | None = Field(
        default=None, min_length=1, max_length=128, description="Key in the CRM/ERP it came from"
    )


class ChangeDecisionStateRequest(Command):
    state: DecisionState = Field(examples=["intent_confirmed"])
    expected_version: int | None = Field(
        default=None,
        ge=1,
        description="The version you saw; a stale one is refused with 409 instead of overwriting",
    )


class ChangeTierRequest(Command):
    tier: CustomerTier
    expected_version: int | None = Field(default=None, ge=1)


class ReassignRequest(Command):
    owner_id: str = Field(min_length=1, max_length=128)
    org_unit_id: str | None = Field(default=None, max_length=128)


class FollowUpRequest(Command):
    kind: FollowUpKind = Field(examples=["visit"])
    contacted_at: Instant = Field(description="When the contact happened, with time zone")
    notes: str = Field(max_length=2000, examples=["张总认可方案，要求下周到厂看产线"])
    competitor_notes: str | None = Field(default=None, max_length=2000)
    decision_chain_change: str | None = Field(default=None, max_length=2000)


class NextActionRequest(Command):
    kind: NextActionKind = Field(examples=["schedule_factory_visit"])
    description: str = Field(max_length=2000, examples=["约张总周四到厂看产线"])
    due_at: Instant


class CustomerView(BaseModel):
    """A row of table 1 with its derived fields and flags."""

    customer_id: str
    external_key: str | None
    name: str
    tier: CustomerTier
    owner_id: str
    org_unit_id: str
    estimated_contribution: Money
    decision_state: DecisionState | None
    last_contact_at: datetime | None
    stale: bool
    red_flag: bool
    next_action_kind: NextActionKind | None
    next_action_description: str | None
    next_action_due_at: datetime | None
    next_action_status: str | None
    next_action_updated_at: datetime | None
    negotiation_request_id: str | None
    negotiation_manager_id: str | None
    negotiation_due_at: datetime | None
    negotiation_status: str | None
    registered_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> CustomerView:
        data: dict[str, Any] = dict(row)
        data["estimated_contribution"] = Decimal(data["estimated_contribution"])
        return cls.model_validate(data)


class FollowUpView(BaseModel):
    follow_up_id: str
    customer_id: str
    kind: FollowUpKind
    contacted_at: datetime
    notes: str
    competitor_notes: str | None
    decision_chain_change: str | None
    logged_by: str
    logged_at: datetime


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
    org_unit_id: Annotated[str | None, Query(description="This unit and every unit below")] = None,
    tier: CustomerTier | None = None,
    decision_state: DecisionState | None = None,
    stale: bool | None = None,
    red_flagged: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[CustomerView]:
    directory = service.directory
    owners = people_overseen(directory, actor)
    if owner_id is not None:
        if owners is not None and owner_id not in owners:
            raise Forbidden(f"you do not oversee {owner_id!r}")
        owners = [owner_id]
    units = None
    if org_unit_id is not None:
        service.org_unit(org_unit_id, "org_unit_id")
        units = [unit.id for unit in directory.units_under(org_unit_id)]
    where = queries.CustomerFilter(
        owner_ids=owners,
        org_unit_ids=units,
        tier=tier.value if tier else None,
        decision_state=decision_state.value if decision_state else None,
        stale=stale,
        red_flagged=red_flagged,
    )
    rows = await queries.list_customers(service.pool, where, limit=limit, offset=offset)
    return [CustomerView.of(row) for row in rows]


@router.get(
    "/negotiation-joins",
    response_model=list[CustomerView],
    summary="Customers whose second quote negotiation waits for you to confirm joining",
)
async def pending_negotiation_joins(actor: ActorDep, service: ServiceDep) -> list[CustomerView]:
    rows = await queries.pending_negotiation_joins(service.pool, actor.id)
    return [CustomerView.of(row) for row in rows]


@router.get("/{customer_id}", response_model=CustomerView, summary="One customer")
async def get_customer(customer_id: str, actor: ActorDep, service: ServiceDep) -> CustomerView:
    return CustomerView.of(await service.get(actor, customer_id))


@router.put(
    "/{customer_id}/decision-state",
    response_model=CustomerView,
    summary="Change the key person's decision state",
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


@router.put("/{customer_id}/tier", response_model=CustomerView, summary="Change the tier")
async def change_tier(
    customer_id: str, body: ChangeTierRequest, actor: ActorDep, service: ServiceDep
) -> CustomerView:
    return CustomerView.of(
        await service.change_tier(actor, customer_id, body.tier, body.expected_version)
    )


@router.put(
    "/{customer_id}/owner",
    response_model=CustomerView,
    summary="Hand the customer to another rep (group lead or above)",
)
async def reassign(
    customer_id: str, body: ReassignRequest, actor: ActorDep, service: ServiceDep
) -> CustomerView:
    return CustomerView.of(
        await service.reassign(actor, customer_id, body.owner_id, body.org_unit_id)
    )


@router.post(
    "/{customer_id}/follow-ups",
    status_code=201,
    response_model=CustomerView,
    summary="Log a follow-up; the newest one sets the last contact time",
)
async def log_follow_up(
    customer_id: str, body: FollowUpRequest, actor: ActorDep, service: ServiceDep
) -> CustomerView:
    return CustomerView.of(await service.log_follow_up(actor, customer_id, **body.model_dump()))


@router.get(
    "/{customer_id}/follow-ups",
    response_model=list[FollowUpView],
    summary="Follow-ups, newest contact first",
)
async def follow_ups(customer_id: str, actor: ActorDep, service: ServiceDep) -> list[FollowUpView]:
    await service.get(actor, customer_id)
    rows = await queries.follow_ups(service.pool, customer_id)
    return [FollowUpView.model_validate(dict(row)) for row in rows]


@router.put(
    "/{customer_id}/next-action",
    response_model=CustomerView,
    summary="Commit (or update) the next required action (owner only)",
)
async def commit_next_action(
    customer_id: str, body: NextActionRequest, actor: ActorDep, service: ServiceDep
) -> CustomerView:
    return CustomerView.of(
        await service.commit_next_action(
            actor, customer_id, kind=body.kind, description=body.description, due_at=body.due_at
        )
    )


@router.post(
    "/{customer_id}/next-action/complete",
    response_model=CustomerView,
    summary="Mark the next required action done (owner only)",
)
async def complete_next_action(
    customer_id: str, actor: ActorDep, service: ServiceDep
) -> CustomerView:
    return CustomerView.of(await service.complete_next_action(actor, customer_id))


@router.post(
    "/{customer_id}/negotiation-join/confirm",
    response_model=CustomerView,
    summary="The named sales manager confirms joining the second quote negotiation",
)
async def confirm_negotiation_join(
    customer_id: str, actor: ActorDep, service: ServiceDep
) -> CustomerView:
    return CustomerView.of(await service.confirm_negotiation_join(actor, customer_id))
