"""The audit query of every service: who changed a record, when, what, from which request.

Every event is stored with its actor, correlation id, W3C ``traceparent`` and recorded time
(:mod:`salesops.eventstore`), so a record's stream already is its audit trail. The trace id
finds the request in the trace backend (Jaeger) and in the JSON logs, whose lines carry it.
Each service names the stream behind a record id (``ServiceDefinition.audit_stream``:
a customer id -> ``customer-<id>``, a task id -> ``task-<id>``...).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from salesops.auth import SYSTEM_ACTOR, Actor, current_actor
from salesops.eventstore import EventStore, RecordedEvent
from salesops.orgdir import OrgDirectory, Role, UnknownPerson
from salesops.problems import Forbidden, NotFound

#: Who may read audit trails: admins and the organisation-wide reviewers (the sales
#: director, department heads, finance/risk). A trail names everyone who touched a record
#: across departments and reporting lines, so it is not for the people working on it: a
#: rep or lead sees the record itself (its owner, its state), not this.
AUDITORS = frozenset({Role.ADMIN, Role.SALES_DIRECTOR, Role.DEPARTMENT_HEAD, Role.FINANCE_RISK})

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


class AuditEntry(BaseModel):
    """One change: an event of the record's stream and the request that caused it."""

    event_type: str = Field(examples=["DecisionStateChanged"])
    stream_version: int = Field(description="The record's version after this change")
    recorded_at: datetime
    actor_id: str = Field(description="Person id of the org directory, or 'system' (timers)")
    actor_name: str | None
    trace_id: str | None = Field(
        description="W3C trace id of the request (null when the request carried no trace)"
    )
    span_id: str | None = Field(description="The span that wrote the event")
    correlation_id: str = Field(description="Joins the events of one flow (X-Correlation-Id)")
    causation_id: str | None
    event_id: uuid.UUID


class AuditTrail(BaseModel):
    service: str
    record_id: str
    stream_id: str
    changes: list[AuditEntry] = Field(description="Oldest first")


def _name_of(directory: OrgDirectory, actor_id: str) -> str | None:
    if actor_id == SYSTEM_ACTOR.id:
        return SYSTEM_ACTOR.name
    try:
        return directory.person(actor_id).name
    except UnknownPerson:  # left the directory since: the id is still the answer
        return None


def _entry(event: RecordedEvent, directory: OrgDirectory) -> AuditEntry:
    meta = event.metadata
    ids = _TRACEPARENT.match(meta.traceparent or "")
    return AuditEntry(
        event_type=event.event_type,
        stream_version=event.stream_version,
        recorded_at=event.recorded_at,
        actor_id=meta.actor,
        actor_name=_name_of(directory, meta.actor),
        trace_id=ids.group(1) if ids else None,
        span_id=ids.group(2) if ids else None,
        correlation_id=meta.correlation_id,
        causation_id=meta.causation_id,
        event_id=event.event_id,
    )


async def audit_trail(
    store: EventStore, directory: OrgDirectory, service: str, record_id: str, stream_id: str
) -> AuditTrail:
    """The record's changes, oldest first; 404 when the service has no such record."""
    events = await store.read_stream(stream_id)
    if not events:
        raise NotFound(f"{service} has no record {record_id!r}", field="record_id")
    return AuditTrail(
        service=service,
        record_id=record_id,
        stream_id=stream_id,
        changes=[_entry(event, directory) for event in events],
    )


def audit_router(service: str, stream_of: Callable[[str], str]) -> APIRouter:
    """``GET /audit/records/{record_id}`` for a service whose records live in ``stream_of(id)``."""
    router = APIRouter(tags=["audit"])

    @router.get(
        "/audit/records/{record_id}",
        response_model=AuditTrail,
        summary="Who changed the record, when, what, and from which request (trace id)",
    )
    async def audit(
        record_id: str, request: Request, actor: Annotated[Actor, Depends(current_actor)]
    ) -> AuditTrail:
        if not actor.has_any_role(AUDITORS):
            raise Forbidden(
                "audit trails are for admins, the sales director, department heads and finance/risk"
            )
        runtime = request.app.state.runtime
        return await audit_trail(
            runtime.store, runtime.directory, service, record_id, stream_of(record_id)
        )

    return router
