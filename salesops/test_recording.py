"""Recording a command's events with its read-model statements as one statement, or not.

Against a real PostgreSQL: what composes, that a conflict undoes the statements that
rode along (with and without a transaction around), the fallback for statements that
cannot be parts of one, and the row a part hands back.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import pytest
from pydantic import BaseModel

from salesops.db import Statement
from salesops.eventstore import (
    ConcurrencyConflict,
    EventMetadata,
    EventStore,
    RecordedEvent,
    composable,
)
from salesops.recording import EventRecorder

pytestmark = pytest.mark.integration

META = EventMetadata(actor="p-rep-1", correlation_id="corr-1")


class NoteTaken(BaseModel):
    note_id: str
    text: str


@pytest.fixture
async def tables(pool: asyncpg.Pool) -> asyncpg.Pool:
    await pool.execute(
        "CREATE TABLE notes (note_id text PRIMARY KEY, text text NOT NULL, version int NOT NULL);"
        " CREATE TABLE note_log (note_id text NOT NULL, line text NOT NULL)"
    )
    return pool


def insert_note(recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]) -> list[Statement]:
    """The note as the last event leaves it, and a line in the log: two tables, composable."""
    stored, event = recorded[-1], events[-1]
    assert isinstance(event, NoteTaken)
    return [
        (
            "INSERT INTO notes VALUES ($1, $2, $3)"
            " ON CONFLICT (note_id) DO UPDATE SET text = EXCLUDED.text, version = $3",
            (event.note_id, event.text, stored.stream_version),
        ),
        ("INSERT INTO note_log VALUES ($1, $2)", (event.note_id, "taken")),
    ]


def two_updates(recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]) -> list[Statement]:
    """Two statements on one table: cannot be parts of one statement."""
    note = events[0]
    assert isinstance(note, NoteTaken)
    return [
        ("INSERT INTO notes VALUES ($1, $2, 1)", (note.note_id, note.text)),
        ("UPDATE notes SET version = $2 WHERE note_id = $1", (note.note_id, 7)),
    ]


def test_statements_compose_only_when_each_writes_a_table_no_other_one_touches() -> None:
    insert = ("INSERT INTO notes VALUES ($1)", ("a",))
    log = ("INSERT INTO note_log VALUES ($1, $2)", ("a", "x"))
    assert composable([insert, log])
    assert composable([])
    assert not composable([insert, ("UPDATE notes SET text = $2 WHERE note_id = $1", ("a", "b"))])
    # A statement reading a table another one writes would see it as it was before.
    reads_notes = (
        "INSERT INTO note_log SELECT note_id, text FROM notes WHERE note_id = $1",
        ("a",),
    )
    assert not composable([insert, reads_notes])
    assert not composable([("SELECT pg_notify($1, $2)", ("c", "p"))])


async def test_events_and_their_statements_are_written_without_a_transaction(
    tables: asyncpg.Pool,
) -> None:
    recorder = EventRecorder(EventStore(tables), insert_note)
    async with tables.acquire() as conn:
        recorded = await recorder.record(
            conn,
            "note-a",
            [NoteTaken(note_id="a", text="第一次")],
            expected_version=0,
            metadata=META,
        )
        assert not conn.is_in_transaction()
    assert [r.stream_version for r in recorded] == [1]
    assert recorded[0].position > 0
    assert await tables.fetchval("SELECT version FROM notes WHERE note_id = 'a'") == 1
    assert await tables.fetchval("SELECT count(*) FROM note_log") == 1
    assert await tables.fetchval("SELECT count(*) FROM outbox") == 0  # a private event


@pytest.mark.parametrize("in_transaction", [False, True])
async def test_a_conflict_undoes_the_statements_that_rode_along(
    tables: asyncpg.Pool, in_transaction: bool
) -> None:
    recorder = EventRecorder(EventStore(tables), insert_note)
    async with tables.acquire() as conn:
        await recorder.record(
            conn, "note-a", [NoteTaken(note_id="a", text="v1")], expected_version=0, metadata=META
        )

        async def stale() -> None:
            events = [NoteTaken(note_id="a", text="stale")]
            if not in_transaction:
                await recorder.record(conn, "note-a", events, expected_version=0, metadata=META)
                return
            async with conn.transaction():
                await recorder.record(conn, "note-a", events, expected_version=0, metadata=META)

        with pytest.raises(ConcurrencyConflict) as conflict:
            await stale()
    assert (conflict.value.expected, conflict.value.actual) == (0, 1)
    assert await tables.fetchval("SELECT text FROM notes WHERE note_id = 'a'") == "v1"
    assert await tables.fetchval("SELECT count(*) FROM note_log") == 1
    assert await tables.fetchval("SELECT count(*) FROM events") == 1


async def test_statements_that_cannot_compose_run_in_a_transaction_of_their_own(
    tables: asyncpg.Pool,
) -> None:
    recorder = EventRecorder(EventStore(tables), two_updates)
    async with tables.acquire() as conn:
        recorded, row = await recorder.record_returning(
            conn,
            "note-b",
            [NoteTaken(note_id="b", text="x")],
            expected_version=0,
            metadata=META,
            returning="notes",
        )
        assert row is None  # not parts of the append: the caller reads the row itself
        assert await tables.fetchval("SELECT version FROM notes WHERE note_id = 'b'") == 7
        # The second time the INSERT fails: the event it came with is not kept either.
        with pytest.raises(asyncpg.UniqueViolationError):
            await recorder.record(
                conn,
                "note-b",
                [NoteTaken(note_id="b", text="y")],
                expected_version=recorded[-1].stream_version,
                metadata=META,
            )
    assert await tables.fetchval("SELECT count(*) FROM events") == 1


async def test_the_row_a_statement_wrote_comes_back_with_the_events(tables: asyncpg.Pool) -> None:
    recorder = EventRecorder(EventStore(tables), insert_note)
    async with tables.acquire() as conn:
        _, first = await recorder.record_returning(
            conn,
            "note-c",
            [NoteTaken(note_id="c", text="一")],
            expected_version=0,
            metadata=META,
            returning="notes",
        )
        recorded, second = await recorder.record_returning(
            conn,
            "note-c",
            [NoteTaken(note_id="c", text="二"), NoteTaken(note_id="c", text="三")],
            expected_version=1,
            metadata=META,
            returning="notes",
        )
    assert first is not None
    assert (first["note_id"], first["text"], first["version"]) == ("c", "一", 1)
    assert second is not None
    assert (second["text"], second["version"]) == ("三", 3)
    assert [r.stream_version for r in recorded] == [2, 3]
    assert recorded[0].position < recorded[1].position


async def test_a_parts_own_duplicate_key_is_an_error_not_a_conflict(tables: asyncpg.Pool) -> None:
    def duplicate(
        recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]
    ) -> list[Statement]:
        return [("INSERT INTO notes VALUES ('same', 'x', 1)", ())]

    recorder = EventRecorder(EventStore(tables), duplicate)
    async with tables.acquire() as conn:
        await recorder.record(
            conn, "note-d", [NoteTaken(note_id="d", text="x")], expected_version=0, metadata=META
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await recorder.record(
                conn,
                "note-e",
                [NoteTaken(note_id="e", text="x")],
                expected_version=0,
                metadata=META,
            )
    assert await tables.fetchval("SELECT count(*) FROM events") == 1
