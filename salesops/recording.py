"""Recording a command's events together with what they bring: read model rows and timers.

Every service does the same three things in a command's transaction — append the events,
run the statements that project them into its read model and (re)schedule the timers they
start — so the sequence lives here once; each service supplies its ``follow_on``.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
from pydantic import BaseModel

from contracts.registry import event_class
from salesops.auth import Actor
from salesops.db import DbConnection, Statement, execute_batched
from salesops.eventstore import (
    EventMetadata,
    EventStore,
    RecordedEvent,
    StreamAppend,
    composable,
)
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


_RETURNS = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def _writing(statements: Sequence[Statement], table: str) -> int | None:
    """The index of the first statement that inserts into or updates ``table``."""
    pattern = re.compile(rf"\s*(?:INSERT\s+INTO|UPDATE)\s+{re.escape(table)}\b", re.IGNORECASE)
    return next((i for i, (sql, _) in enumerate(statements) if pattern.match(sql)), None)


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
        """Append ``events`` with what they bring, all or nothing (see :meth:`record_returning`)."""
        recorded, _ = await self.record_returning(
            conn, stream_id, events, expected_version=expected_version, metadata=metadata
        )
        return recorded

    async def record_returning(
        self,
        conn: DbConnection,
        stream_id: str,
        events: Sequence[BaseModel],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        returning: str | None = None,
    ) -> tuple[list[RecordedEvent], asyncpg.Record | None]:
        """Append ``events`` with what they bring, all or nothing.

        Usually one statement: the read-model and timer statements ride along as parts of
        the append (``EventStore.append(then=...)``), so a command that writes nothing
        else needs no transaction of its own and one round trip. Statements that cannot
        be parts of one (two on one table, see ``composable``) run one after the other,
        in the caller's transaction or in one opened here.

        ``returning``: a table; the row the statements wrote in it (the first, with all
        its columns) comes back with the events, when they ran as parts of the append.
        Otherwise (no such statement, or not run as parts) it is None: read it yourself.
        """
        if not events:
            return [], None
        planned = None
        statements: list[Statement] = []
        if expected_version is not None:
            planned = self.store.plan(
                stream_id, events, expected_version=expected_version, metadata=metadata
            )
            statements = self._follow_on(planned, events)
            if composable(statements):
                part = _writing(statements, returning) if returning else None
                if part is not None:
                    sql, args = statements[part]
                    if not _RETURNS.search(sql):
                        statements[part] = (f"{sql} RETURNING *", args)
                return await self.store.append_returning(
                    stream_id,
                    events,
                    expected_version=expected_version,
                    metadata=metadata,
                    conn=conn,
                    planned=planned,
                    then=statements,
                    returning=part,
                )
        opened = contextlib.nullcontext() if conn.is_in_transaction() else conn.transaction()
        async with opened:
            recorded = await self.store.append(
                stream_id,
                events,
                expected_version=expected_version,
                metadata=metadata,
                conn=conn,
                planned=planned,
            )
            # With a known version the plan is what was recorded (but for the positions).
            for sql, args in (
                statements if planned is not None else self._follow_on(recorded, events)
            ):
                await conn.execute(sql, *args)
        return recorded, None

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
