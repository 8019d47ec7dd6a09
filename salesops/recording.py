"""Recording a command's events together with what they bring: read model rows and timers.

Every service does the same three things in a command's transaction — append the events,
run the statements that project them into its read model and (re)schedule the timers they
start — so the sequence lives here once; each service supplies its ``follow_on``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from contracts.registry import event_class
from salesops.auth import Actor
from salesops.db import DbConnection, Statement, execute_batched
from salesops.eventstore import EventMetadata, EventStore, RecordedEvent, StreamAppend
from salesops.telemetry import current_traceparent

FollowOn = Callable[[Sequence[RecordedEvent], Sequence[BaseModel]], list[Statement]]
#: How one event type changes a read model: the statements to run, given the stored event.
Projector = Callable[[Any, RecordedEvent], list[Statement]]


def project(
    projectors: Mapping[type[BaseModel], Projector],
    recorded: Sequence[RecordedEvent],
    events: Sequence[BaseModel],
) -> list[Statement]:
    """The statements that bring a read model up to date with events just appended."""
    found: list[Statement] = []
    for stored, event in zip(recorded, events, strict=True):
        projector = projectors.get(type(event))
        if projector is not None:
            found += projector(event, stored)
    return found


def metadata_for(actor: Actor, correlation_id: str | None = None) -> EventMetadata:
    """Metadata of events caused by ``actor`` in the current trace."""
    return EventMetadata(
        actor=actor.id,
        correlation_id=correlation_id or str(uuid.uuid4()),
        traceparent=current_traceparent(),
    )


def published_events(stored: Sequence[RecordedEvent]) -> list[BaseModel]:
    """Stored events parsed back into their contract classes (to fold an aggregate)."""
    return [event_class(e.event_type).model_validate(e.data) for e in stored]


class EventRecorder:
    """Append + project + schedule, in the caller's transaction."""

    def __init__(self, store: EventStore, follow_on: FollowOn) -> None:
        self.store = store
        self._follow_on = follow_on

    async def record(
        self,
        conn: DbConnection,
        stream_id: str,
        events: Sequence[BaseModel],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
    ) -> list[RecordedEvent]:
        if not events:
            return []
        recorded = await self.store.append(
            stream_id, events, expected_version=expected_version, metadata=metadata, conn=conn
        )
        for sql, args in self._follow_on(recorded, events):
            await conn.execute(sql, *args)
        return recorded

    async def record_many(
        self, conn: DbConnection, batch: Sequence[StreamAppend], *, metadata: EventMetadata
    ) -> None:
        """:meth:`record` for many streams at once, with a handful of round trips."""
        recorded = await self.store.append_many(batch, metadata=metadata, conn=conn)
        await execute_batched(
            conn,
            [
                self._follow_on(stored, item.events)
                for stored, item in zip(recorded, batch, strict=True)
            ],
        )
