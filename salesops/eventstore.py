"""The event store: append-only streams in the service's PostgreSQL schema.

Every state change is an event row with a stream version (optimistic concurrency) and a
global position. Events that are part of the published language (``contracts``) get an
outbox row in the same statement, so they reach NATS if and only if they are stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from contracts.base import IntegrationEvent
from salesops.clock import Clock, SystemClock
from salesops.db import DbConnection, Migration, Statement
from salesops.opsmetrics import OperationalMetrics
from salesops.telemetry import tracer, tracing_active

#: The SQLSTATE ``stream_conflict()`` raises (a code of our own, in no PostgreSQL class).
STREAM_CONFLICT = "SA409"

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
    Migration(
        "0002_stream_conflict",
        # Called by an append that carries its read-model statements when the stream could
        # not be claimed: the error undoes the whole statement, those statements included.
        f"""
        CREATE FUNCTION stream_conflict(stream text) RETURNS integer LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'stream % moved on', stream USING ERRCODE = '{STREAM_CONFLICT}';
        END $$;
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
_APPEND_PARTS = """
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
)"""
_APPEND = (
    _APPEND_PARTS
    + """
SELECT position, event_id, stream_version FROM inserted ORDER BY stream_version
"""
)
# The same, carrying statements of the command's transaction (read model, timers) as
# further parts: {then} are ``thenN AS (<statement>)`` clauses, their parameters after $10.
# A stream that cannot be claimed calls stream_conflict(), whose error undoes them all.
_APPEND_THEN = (
    _APPEND_PARTS
    + """,
{then}
{result}
"""
)
_THEN_RESULT = """
SELECT position, event_id, stream_version FROM inserted
UNION ALL
SELECT NULL::bigint, NULL::uuid, stream_conflict($1) WHERE NOT EXISTS (SELECT 1 FROM claimed)
ORDER BY stream_version
"""
# Instead, one row: the events' positions and the row a part returned (its RETURNING),
# which saves the command reading its read-model row back.
_THEN_RETURNING = """
SELECT CASE WHEN EXISTS (SELECT 1 FROM claimed)
            THEN (SELECT array_agg(position ORDER BY stream_version) FROM inserted)
            ELSE ARRAY[stream_conflict($1)::bigint] END AS _positions,
       returned.*
FROM (SELECT 1) AS one LEFT JOIN (SELECT * FROM then{part} LIMIT 1) AS returned ON true
"""
_APPEND_PARAMETERS = 10
_WRITES = re.compile(
    r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([A-Za-z_][A-Za-z0-9_.]*)", re.IGNORECASE
)
_PARAMETER = re.compile(r"\$(\d+)")


def composable(statements: Sequence[Statement]) -> bool:
    """Whether ``statements`` can be parts of the append statement (see ``append(then=)``).

    The parts of one statement all see the database as it was before the statement, and
    two of them must not change the same row. So each must be an INSERT, UPDATE or
    DELETE of a table of its own, and none may mention a table another one writes; then
    running them as parts does what running them one after the other does.
    """
    return _composable(tuple(sql for sql, _ in statements))


@functools.lru_cache(maxsize=1024)
def _composable(sqls: tuple[str, ...]) -> bool:
    # A command's statements come in a few shapes, asked about on every command.
    targets = []
    for sql in sqls:
        match = _WRITES.match(sql)
        if match is None:
            return False
        targets.append(match.group(1).lower())
    if len(set(targets)) != len(targets):
        return False
    for i, sql in enumerate(sqls):
        for j, target in enumerate(targets):
            if i != j and re.search(rf"\b{re.escape(target)}\b", sql, re.IGNORECASE):
                return False
    return True


def _parts(statements: Sequence[Statement]) -> tuple[str, list[Any]]:
    """``thenN AS (...)`` clauses with their parameters renumbered after the append's."""
    clauses = []
    arguments: list[Any] = []
    for number, (sql, args) in enumerate(statements, start=1):
        offset = _APPEND_PARAMETERS + len(arguments)

        def shifted(match: re.Match[str], offset: int = offset) -> str:
            return f"${int(match.group(1)) + offset}"

        clauses.append(f"then{number} AS ({_PARAMETER.sub(shifted, sql)})")
        arguments.extend(args)
    return ",\n".join(clauses), arguments


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
        #: Called after each append (the runtime wakes its outbox relay with it). An append
        #: in a transaction may not be committed yet: the relay then finds it a tick later.
        self.on_append: Callable[[], None] | None = None

    def plan(
        self,
        stream_id: str,
        events: Sequence[BaseModel],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
    ) -> list[RecordedEvent]:
        """The events as :meth:`append` will record them, before it runs.

        Their ids and time are decided here; ``position`` is 0 until stored, and with
        ``expected_version=None`` so is ``stream_version`` (known only once appended).
        Pass the plan to ``append(planned=...)``.
        """
        recorded_at = self._clock.now()
        base = expected_version or 0
        known = expected_version is not None
        return [
            RecordedEvent(
                position=0,
                event_id=uuid.uuid4(),
                stream_id=stream_id,
                stream_version=base + number if known else 0,
                event_type=type(event).__name__,
                schema_version=_schema_version(event),
                data=event.model_dump(mode="json"),
                metadata=metadata,
                recorded_at=recorded_at,
            )
            for number, event in enumerate(events, start=1)
        ]

    async def append(
        self,
        stream_id: str,
        events: Sequence[BaseModel],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        conn: DbConnection | None = None,
        planned: Sequence[RecordedEvent] | None = None,
        then: Sequence[Statement] = (),
    ) -> list[RecordedEvent]:
        """Append ``events`` to ``stream_id`` in one statement (see :meth:`append_returning`)."""
        recorded, _ = await self.append_returning(
            stream_id,
            events,
            expected_version=expected_version,
            metadata=metadata,
            conn=conn,
            planned=planned,
            then=then,
        )
        return recorded

    async def append_returning(
        self,
        stream_id: str,
        events: Sequence[BaseModel],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        conn: DbConnection | None = None,
        planned: Sequence[RecordedEvent] | None = None,
        then: Sequence[Statement] = (),
        returning: int | None = None,
    ) -> tuple[list[RecordedEvent], asyncpg.Record | None]:
        """Append ``events`` to ``stream_id`` in one statement.

        ``expected_version`` is the version the caller's decision was based on: 0 for a new
        stream, ``None`` to append whatever the version (for streams with one writer, such
        as timers). A stale version raises :class:`ConcurrencyConflict` and writes nothing.
        Pass ``conn`` to make the append part of the caller's transaction.

        ``then``: statements that go with the events (their read-model rows, their
        timers), run as parts of the same statement, so that a command needs neither a
        transaction of its own nor a round trip per statement. They must be
        :func:`composable`, and ``expected_version`` known; a conflict undoes them too.
        ``planned``: the events as :meth:`plan` made them (the statements may use them).
        ``returning``: the index of the statement in ``then`` whose ``RETURNING`` row to
        hand back (besides a ``_positions`` column), e.g. the read-model row it wrote;
        None when that statement wrote no row.
        """
        if not events:
            return [], None
        if expected_version is not None and expected_version < 0:
            raise ValueError("expected_version must be >= 0 or None")
        if then and (expected_version is None or not composable(then)):
            raise ValueError("then= takes composable statements and a known expected_version")
        if returning is not None and not 0 <= returning < len(then):
            raise ValueError("returning= names one of the then= statements")
        count = len(events)
        if expected_version is None:
            claim, new_version = _CLAIM_ANY_VERSION, count
        elif expected_version == 0:
            claim, new_version = _CLAIM_NEW_STREAM, count
        else:
            claim, new_version = _CLAIM_AT_VERSION, expected_version + count
        plan = planned or self.plan(
            stream_id, events, expected_version=expected_version, metadata=metadata
        )
        ids = [p.event_id for p in plan]
        public = [i for i, e in zip(ids, events, strict=True) if isinstance(e, IntegrationEvent)]
        event_types = [p.event_type for p in plan]
        args: tuple[Any, ...] = (
            stream_id,
            new_version,
            count,
            ids,
            event_types,
            [p.schema_version for p in plan],
            [e.model_dump_json() for e in events],
            metadata.as_json(),
            plan[0].recorded_at,
            public,
        )
        if then:
            clauses, extra = _parts(then)
            result = (
                _THEN_RESULT if returning is None else _THEN_RETURNING.format(part=returning + 1)
            )
            sql = _APPEND_THEN.format(claim=claim, then=clauses, result=result)
            args = (*args, *extra)
        else:
            sql = _APPEND.format(claim=claim)
        executor = conn if conn is not None else self._pool
        failed = False
        with _append_span([stream_id], event_types):
            try:
                rows = await executor.fetch(sql, *args)
            except asyncpg.UniqueViolationError as exc:
                # A race on the stream; a part's own constraint (a duplicate key) is not one.
                if then and exc.table_name not in ("streams", "events"):
                    raise
                rows, failed = [], True
            except asyncpg.PostgresError as exc:
                if exc.sqlstate != STREAM_CONFLICT:
                    raise
                rows, failed = [], True
        if not rows:
            # A failed statement aborted the caller's transaction: ask on another connection.
            aborted = failed and conn is not None and conn.is_in_transaction()
            actual = await self.stream_version(stream_id, conn=None if aborted else conn)
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        if self._metrics is not None:
            self._metrics.appended(event_types)
        if self.on_append is not None and public:
            self.on_append()
        if returning is not None:
            row = rows[0]
            returned = (
                row if any(v is not None for k, v in row.items() if k != "_positions") else None
            )
            return [
                dataclasses.replace(p, position=position)
                for position, p in zip(row["_positions"], plan, strict=True)
            ], returned
        return [
            dataclasses.replace(p, position=row["position"], stream_version=row["stream_version"])
            for row, p in zip(rows, plan, strict=True)
        ], None

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
        if self.on_append is not None and public:
            self.on_append()
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

    async def read_streams(
        self, stream_ids: Sequence[str], *, conn: DbConnection | None = None
    ) -> dict[str, list[RecordedEvent]]:
        """All events of several streams in one query, each stream's oldest first."""
        executor = conn or self._pool
        rows = await executor.fetch(
            "SELECT * FROM events WHERE stream_id = ANY($1::text[])"
            " ORDER BY stream_id, stream_version",
            list(stream_ids),
        )
        found: dict[str, list[RecordedEvent]] = {stream_id: [] for stream_id in stream_ids}
        for row in rows:
            found[row["stream_id"]].append(_recorded(row))
        return found

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
