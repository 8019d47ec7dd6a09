"""The event store: append-only streams in the service's PostgreSQL schema.

Every state change is an event row with a stream version (optimistic concurrency) and a
global position. Events that are part of the published language (``contracts``) get an
outbox row in the same statement, so they reach NATS if and only if they are stored.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from contracts.base import IntegrationEvent
from salesops.clock import Clock, SystemClock
from salesops.db import DbConnection, Migration
from salesops.opsmetrics import OperationalMetrics
from salesops.telemetry import tracer, tracing_active

EVENT_STORE_MIGRATIONS = (
    Migration(
        "0001_event_store",
        """
        CREATE TABLE streams (
            stream_id text PRIMARY KEY,
            version integer NOT NULL CHECK (version > 0)
        );
        CREATE TABLE events (
            position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            stream_id text NOT NULL,
            stream_version integer NOT NULL,
            event_type text NOT NULL,
            schema_version integer NOT NULL,
            data jsonb NOT NULL,
            metadata jsonb NOT NULL,
            recorded_at timestamptz NOT NULL,
            UNIQUE (stream_id, stream_version)
        );
        -- Pending publications. A row leaves only once NATS JetStream acknowledged it, so a
        -- late-committing writer can never be skipped (the relay reads rows, not a cursor).
        CREATE TABLE outbox (
            position bigint PRIMARY KEY REFERENCES events (position)
        );
        """,
    ),
)

_CLAIM_NEW_STREAM = """
    INSERT INTO streams (stream_id, version) VALUES ($1, $2)
    ON CONFLICT (stream_id) DO NOTHING RETURNING version"""
_CLAIM_AT_VERSION = """
    UPDATE streams SET version = $2 WHERE stream_id = $1 AND version = $2 - $3::int
    RETURNING version"""
_CLAIM_ANY_VERSION = """
    INSERT INTO streams AS s (stream_id, version) VALUES ($1, $2::int)
    ON CONFLICT (stream_id) DO UPDATE SET version = s.version + $3::int
    RETURNING version"""

# One round trip: claim the stream version, insert the events, queue the public ones.
_APPEND = """
WITH claimed AS ({claim}),
inserted AS (
    INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version,
                        data, metadata, recorded_at)
    SELECT u.event_id, $1, claimed.version - $3::int + u.ord::int, u.event_type,
           u.schema_version, u.data::jsonb, $8::jsonb, $9
    FROM claimed,
         unnest($4::uuid[], $5::text[], $6::int[], $7::text[])
             WITH ORDINALITY AS u(event_id, event_type, schema_version, data, ord)
    RETURNING position, event_id, stream_version
),
queued AS (
    INSERT INTO outbox (position)
    SELECT position FROM inserted WHERE event_id = ANY($10::uuid[])
)
SELECT position, event_id, stream_version FROM inserted ORDER BY stream_version
"""


# Many streams in one statement: claim new streams and move existing ones, then insert every
# event whose stream was claimed. A stream that could not be claimed (stale version) makes
# the caller raise, rolling the whole batch back.
_APPEND_MANY = """
WITH request AS (
    SELECT * FROM unnest($1::text[], $2::int[], $3::int[]) AS r(stream_id, expected, n)
),
created AS (
    INSERT INTO streams (stream_id, version)
    SELECT stream_id, n FROM request WHERE expected = 0
    ON CONFLICT (stream_id) DO NOTHING
    RETURNING stream_id, version
),
moved AS (
    UPDATE streams s SET version = r.expected + r.n
    FROM request r
    WHERE r.expected > 0 AND s.stream_id = r.stream_id AND s.version = r.expected
    RETURNING s.stream_id, s.version
),
claimed AS (SELECT * FROM created UNION ALL SELECT * FROM moved),
inserted AS (
    INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version,
                        data, metadata, recorded_at)
    SELECT e.event_id, e.stream_id, r.expected + e.ordinal, e.event_type, e.schema_version,
           e.data::jsonb, $10::jsonb, $11
    FROM unnest($4::uuid[], $5::text[], $6::int[], $7::text[], $8::int[], $9::text[])
             AS e(event_id, stream_id, ordinal, event_type, schema_version, data)
    JOIN request r ON r.stream_id = e.stream_id
    JOIN claimed c ON c.stream_id = e.stream_id
    ORDER BY e.stream_id, e.ordinal
    RETURNING position, event_id, stream_id, stream_version
),
queued AS (
    INSERT INTO outbox (position)
    SELECT position FROM inserted WHERE event_id = ANY($12::uuid[])
)
SELECT (SELECT array_agg(r.stream_id) FROM request r
        WHERE NOT EXISTS (SELECT 1 FROM claimed c WHERE c.stream_id = r.stream_id)) AS stale,
       coalesce(array_agg(position ORDER BY position), '{}') AS positions,
       coalesce(array_agg(event_id ORDER BY position), '{}') AS event_ids
FROM inserted
"""


@dataclass(frozen=True)
class StreamAppend:
    """Events for one stream, in a batch appended by :meth:`EventStore.append_many`."""

    stream_id: str
    events: Sequence[BaseModel]
    expected_version: int


class ConcurrencyConflict(Exception):
    """The stream moved on since the caller read it: reload and decide again (HTTP 409)."""

    def __init__(self, stream_id: str, expected: int | None, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, the command expected {expected}"
        )


@dataclass(frozen=True)
class EventMetadata:
    """Who caused an event and in which flow; stored with every event."""

    actor: str
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str | None = None
    traceparent: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "traceparent": self.traceparent,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventMetadata:
        return cls(
            actor=data["actor"],
            correlation_id=data["correlation_id"],
            causation_id=data.get("causation_id"),
            traceparent=data.get("traceparent"),
        )


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored."""

    position: int
    event_id: uuid.UUID
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: datetime


def _schema_version(event: BaseModel) -> int:
    return int(getattr(type(event), "schema_version", 1))


def _append_span(
    stream_ids: Sequence[str], event_types: Sequence[str]
) -> contextlib.AbstractContextManager[Any]:
    """A span around the append statement, naming what was written (nothing without tracing)."""
    if not tracing_active():
        return contextlib.nullcontext()
    return tracer.start_as_current_span(
        "eventstore append",
        attributes={
            "db.system.name": "postgresql",
            "db.operation.name": "append",
            "salesops.stream.id": list(stream_ids),
            "salesops.event.types": list(event_types),
            "salesops.event.count": len(event_types),
        },
    )


class EventStore:
    """Append to and read from the event streams of one service schema."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock | None = None,
        *,
        metrics: OperationalMetrics | None = None,
    ) -> None:
        self._pool = pool
        self._clock = clock or SystemClock()
        self._metrics = metrics

    async def append(
        self,
        stream_id: str,
        events: Sequence[BaseModel],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        conn: DbConnection | None = None,
    ) -> list[RecordedEvent]:
        """Append ``events`` to ``stream_id`` in one statement.

        ``expected_version`` is the version the caller's decision was based on: 0 for a new
        stream, ``None`` to append whatever the version (for streams with one writer, such
        as timers). A stale version raises :class:`ConcurrencyConflict` and writes nothing.
        Pass ``conn`` to make the append part of the caller's transaction.
        """
        if not events:
            return []
        if expected_version is not None and expected_version < 0:
            raise ValueError("expected_version must be >= 0 or None")
        count = len(events)
        if expected_version is None:
            claim, new_version = _CLAIM_ANY_VERSION, count
        elif expected_version == 0:
            claim, new_version = _CLAIM_NEW_STREAM, count
        else:
            claim, new_version = _CLAIM_AT_VERSION, expected_version + count
        ids = [uuid.uuid4() for _ in events]
        public = [i for i, e in zip(ids, events, strict=True) if isinstance(e, IntegrationEvent)]
        recorded_at = self._clock.now()
        meta = metadata.as_json()
        event_types = [type(e).__name__ for e in events]
        args = (
            stream_id,
            new_version,
            count,
            ids,
            event_types,
            [_schema_version(e) for e in events],
            [e.model_dump_json() for e in events],
            meta,
            recorded_at,
            public,
        )
        sql = _APPEND.format(claim=claim)
        with _append_span([stream_id], event_types):
            try:
                if conn is None:
                    rows = await self._pool.fetch(sql, *args)
                else:
                    rows = await conn.fetch(sql, *args)
            except asyncpg.UniqueViolationError:
                rows = []
        if not rows:
            actual = await self.stream_version(stream_id, conn=conn)
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        if self._metrics is not None:
            self._metrics.appended(event_types)
        return [
            RecordedEvent(
                position=row["position"],
                event_id=row["event_id"],
                stream_id=stream_id,
                stream_version=row["stream_version"],
                event_type=type(event).__name__,
                schema_version=_schema_version(event),
                data=event.model_dump(mode="json"),
                metadata=metadata,
                recorded_at=recorded_at,
            )
            for row, event in zip(rows, events, strict=True)
        ]

    async def append_many(
        self,
        batch: Sequence[StreamAppend],
        *,
        metadata: EventMetadata,
        conn: DbConnection,
    ) -> list[list[RecordedEvent]]:
        """Append to many streams in one statement, inside the caller's transaction.

        Each stream's ``expected_version`` is checked as in :meth:`append` (0 = new stream).
        If any stream is stale, :class:`ConcurrencyConflict` is raised and the caller's
        transaction must be rolled back (nothing of the batch may stay). Returns the
        recorded events per stream, in the order given.
        """
        items = [item for item in batch if item.events]
        if not items:
            return [[] for _ in batch]
        if len({item.stream_id for item in items}) != len(items):
            raise ValueError("a batch names each stream once")
        recorded_at = self._clock.now()
        ids: list[uuid.UUID] = []
        public: list[uuid.UUID] = []
        columns: tuple[list[str], list[int], list[str], list[int], list[str]] = ([], [], [], [], [])
        for item in items:
            if item.expected_version < 0:
                raise ValueError("expected_version must be >= 0 in a batch")
            for ordinal, event in enumerate(item.events, start=1):
                event_id = uuid.uuid4()
                ids.append(event_id)
                if isinstance(event, IntegrationEvent):
                    public.append(event_id)
                columns[0].append(item.stream_id)
                columns[1].append(ordinal)
                columns[2].append(type(event).__name__)
                columns[3].append(_schema_version(event))
                columns[4].append(event.model_dump_json())
        with _append_span([item.stream_id for item in items], columns[2]):
            row = await conn.fetchrow(
                _APPEND_MANY,
                [item.stream_id for item in items],
                [item.expected_version for item in items],
                [len(item.events) for item in items],
                ids,
                *columns,
                metadata.as_json(),
                recorded_at,
                public,
            )
        assert row is not None
        if row["stale"]:
            stale = next(item for item in items if item.stream_id == row["stale"][0])
            actual = await self.stream_version(stale.stream_id, conn=conn)
            raise ConcurrencyConflict(stale.stream_id, stale.expected_version, actual)
        if self._metrics is not None:
            self._metrics.appended(columns[2])
        position_of = dict(zip(row["event_ids"], row["positions"], strict=True))
        results: dict[str, list[RecordedEvent]] = {}
        event_ids = iter(ids)
        for item in items:
            results[item.stream_id] = [
                RecordedEvent(
                    position=position_of[event_id],
                    event_id=event_id,
                    stream_id=item.stream_id,
                    stream_version=item.expected_version + ordinal,
                    event_type=type(event).__name__,
                    schema_version=_schema_version(event),
                    data=event.model_dump(mode="json"),
                    metadata=metadata,
                    recorded_at=recorded_at,
                )
                for ordinal, (event, event_id) in enumerate(
                    zip(item.events, event_ids, strict=False), start=1
                )
            ]
        return [results.get(item.stream_id, []) for item in batch]

    async def stream_version(self, stream_id: str, *, conn: DbConnection | None = None) -> int:
        """The stream's current version; 0 when it does not exist."""
        executor = conn or self._pool
        version = await executor.fetchval(
            "SELECT version FROM streams WHERE stream_id = $1", stream_id
        )
        return int(version or 0)

    async def read_stream(
        self, stream_id: str, *, from_version: int = 1, conn: DbConnection | None = None
    ) -> list[RecordedEvent]:
        """All events of one stream, oldest first."""
        executor = conn or self._pool
        rows = await executor.fetch(
            "SELECT * FROM events WHERE stream_id = $1 AND stream_version >= $2"
            " ORDER BY stream_version",
            stream_id,
            from_version,
        )
        return [_recorded(row) for row in rows]

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Committed events of every stream after a global position, in position order.

        A position can commit after a higher one; a reader that must not miss one follows
        NATS (fed by the outbox) rather than polling this with a cursor.
        """
        rows = await self._pool.fetch(
            "SELECT * FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after_position,
            limit,
        )
        return [_recorded(row) for row in rows]


def _recorded(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        position=row["position"],
        event_id=row["event_id"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        data=row["data"],
        metadata=EventMetadata.from_json(row["metadata"]),
        recorded_at=row["recorded_at"],
    )
