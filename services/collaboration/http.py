"""HTTP adapter of table 3: tickets through their stages, the SLA board, reports."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from salesops.auth import Actor, current_actor
from salesops.inputs import Instant
from salesops.timers import just_after
from services.collaboration import board, quality, queue
from services.collaboration.handlers import TicketService

router = APIRouter(tags=["collaboration"])
ActorDep = Annotated[Actor, Depends(current_actor)]


async def ticket_service(request: Request) -> TicketService:
    service: TicketService = request.app.state.service.tickets
    return service


ServiceDep = Annotated[TicketService, Depends(ticket_service)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitTicketRequest(Command):
    kind: str = Field(default="sample_request", pattern=r"^[a-z][a-z0-9_]*$")
    customer_id: str = Field(min_length=1, max_length=128)
    product: str = Field(min_length=1, max_length=200, examples=["HY-75 空压机"])
    quantity: int = Field(ge=1, le=100_000)
    document_types: list[str] = Field(
        min_length=1, examples=[["ce_certification_report", "installation_drawing_3d"]]
    )
    note: str | None = Field(default=None, max_length=2000)


class AnswerRequest(Command):
    answer: Literal["provided", "needs_info"]
    missing_items: list[str] = Field(default_factory=list, max_length=50)


class InfoRequest(Command):
    info: str = Field(min_length=1, max_length=4000)


class ShipRequest(Command):
    tracking: str | None = Field(default=None, max_length=100)


class RatingRequest(Command):
    stars: int = Field(ge=1, le=5)
    comment: str | None = None


class TicketView(BaseModel):
    ticket_id: str
    kind: str
    customer_id: str
    customer_name: str | None = Field(description="As the customers service last named it.")
    requester_id: str
    product: str
    quantity: int
    document_types: list[str]
    note: str | None
    status: str
    submitted_at: datetime
    stars: int | None
    version: int
    stages: list[dict[str, Any]] = Field(default_factory=list)


async def _view(service: TicketService, row: asyncpg.Record) -> TicketView:
    stages = await service.pool.fetch(
        "SELECT stage, team_id, owner_id, started_at, due_at, sla_due_at, finished_at, on_time,"
        " level, waiting_for, missing_items FROM ticket_stages WHERE ticket_id = $1"
        " ORDER BY started_at, stage_key",
        row["ticket_id"],
    )
    name = await service.pool.fetchval(
        "SELECT name FROM known_customers WHERE customer_id = $1", row["customer_id"]
    )
    return TicketView.model_validate(
        {**dict(row), "customer_name": name, "stages": [dict(s) for s in stages]}
    )


@router.post(
    "/tickets",
    status_code=201,
    response_model=TicketView,
    summary="Request samples (or other help) with the documents needed",
)
async def submit_ticket(
    body: SubmitTicketRequest, actor: ActorDep, service: ServiceDep
) -> TicketView:
    return await _view(service, await service.submit(actor, **body.model_dump()))


@router.get(
    "/tickets",
    response_model=list[TicketView],
    summary="Your tickets: the ones you (or your team) requested, or your department works on",
)
async def list_tickets(
    actor: ActorDep,
    service: ServiceDep,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TicketView]:
    rows = await queue.tickets_for(
        service.pool, service.directory, actor, status=status, limit=limit
    )
    return [await _view(service, row) for row in rows]


class DocumentTypeView(BaseModel):
    id: str
    name_zh: str
    name_en: str
    team_id: str = Field(description="The tech group the request goes to.")


@router.get(
    "/document-types",
    response_model=list[DocumentTypeView],
    summary="The technical documents a request can ask for, and who provides each",
)
async def document_types(actor: ActorDep, service: ServiceDep) -> list[DocumentTypeView]:
    directory = service.directory
    return [
        DocumentTypeView(
            id=doc.id,
            name_zh=doc.name_zh,
            name_en=doc.name_en,
            team_id=directory.tech_group_for(doc.id).id,
        )
        for doc in directory.document_types
    ]


@router.get("/tickets/{ticket_id}", response_model=TicketView)
async def get_ticket(ticket_id: str, actor: ActorDep, service: ServiceDep) -> TicketView:
    async with service.pool.acquire() as conn:
        return await _view(service, await service.row(conn, ticket_id))


@router.post(
    "/tickets/{ticket_id}/tech/{team_id}/answer",
    response_model=TicketView,
    summary="Tech answers: documents provided, or needs_info with what is missing",
)
async def answer(
    ticket_id: str, team_id: str, body: AnswerRequest, actor: ActorDep, service: ServiceDep
) -> TicketView:
    row = await service.answer(
        actor,
        ticket_id,
        team_id,
        provided=body.answer == "provided",
        missing_items=body.missing_items,
    )
    return await _view(service, row)


@router.post(
    "/tickets/{ticket_id}/tech/{team_id}/info",
    response_model=TicketView,
    summary="Sales supplies the information tech asked for",
)
async def supply_info(
    ticket_id: str, team_id: str, body: InfoRequest, actor: ActorDep, service: ServiceDep
) -> TicketView:
    return await _view(service, await service.supply_info(actor, ticket_id, team_id, body.info))


@router.post(
    "/tickets/{ticket_id}/stocking",
    response_model=TicketView,
    summary="Logistics starts stocking (only once the documents are complete)",
)
async def start_stocking(ticket_id: str, actor: ActorDep, service: ServiceDep) -> TicketView:
    return await _view(service, await service.start_stocking(actor, ticket_id))


@router.post("/tickets/{ticket_id}/shipment", response_model=TicketView, summary="Logistics ships")
async def ship(
    ticket_id: str, body: ShipRequest, actor: ActorDep, service: ServiceDep
) -> TicketView:
    return await _view(service, await service.ship(actor, ticket_id, body.tracking))


@router.post(
    "/tickets/{ticket_id}/receipt",
    response_model=TicketView,
    summary="The requesting rep confirms receipt",
)
async def confirm_receipt(ticket_id: str, actor: ActorDep, service: ServiceDep) -> TicketView:
    return await _view(service, await service.confirm_receipt(actor, ticket_id))


@router.post(
    "/tickets/{ticket_id}/rating",
    response_model=TicketView,
    summary="The requesting rep rates the finished ticket 1-5 stars",
)
async def rate(
    ticket_id: str, body: RatingRequest, actor: ActorDep, service: ServiceDep
) -> TicketView:
    return await _view(service, await service.rate(actor, ticket_id, body.stars, body.comment))


@router.get("/sla-board", summary="Open stages: owner, time left or overdue by, status")
async def sla_board(actor: ActorDep, service: ServiceDep) -> list[dict[str, Any]]:
    lines = await board.sla_board(service.pool, service.rules, service.clock.now())
    return [asdict(line) for line in lines]


@router.get(
    "/reports/repeated-documents",
    summary="Documents requested again and again: candidates for self-service",
)
async def repeated_documents(
    actor: ActorDep,
    service: ServiceDep,
    since: Instant | None = None,
    until: Instant | None = None,
    min_requests: Annotated[int, Query(ge=1)] = 2,
) -> dict[str, Any]:
    now = service.clock.now()
    until = until or just_after(now)  # the window excludes its end: include "now"
    since = since or until - timedelta(days=90)
    rows = await service.pool.fetch(
        "SELECT * FROM document_requests WHERE requested_at >= $1 AND requested_at < $2",
        since,
        until,
    )
    lines = quality.repeated_requests(
        (
            quality.DocumentRequest(
                r["ticket_id"], r["document_type"], r["product"], r["requested_at"]
            )
            for r in rows
        ),
        since=since,
        until=until,
        min_requests=min_requests,
    )
    candidates = quality.self_service_candidates(lines)
    return {
        "since": since,
        "until": until,
        "lines": [asdict(line) for line in lines],
        "self_service_candidates": [asdict(line) for line in candidates],
        "repeats_covered_pct": sum((c.share_of_repeats for c in candidates), Decimal(0)),
    }
