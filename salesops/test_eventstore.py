"""The event store against a real PostgreSQL: versions, conflicts, positions, outbox rows."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from pydantic import BaseModel

from contracts.customers import DecisionState, DecisionStateChanged
from salesops.clock import ManualClock
from salesops.eventstore import ConcurrencyConflict, EventMetadata, EventStore, StreamAppend

pytestmark = pytest.mark.integration


class NoteTaken(BaseModel):
    """A private event: stored, never published."""

    text: str


def changed(to: DecisionState = DecisionState.INTENT_CONFIRMED) -> DecisionStateChanged:
    example = DecisionStateChanged.examples()[0]
    return example.model_copy(update={"to_state": to})


META = EventMetadata(actor="p-rep-1", correlation_id="corr-1", traceparent=None)


async def test_appended_events_are_read_back_in_stream_order_with_metadata(
    pool: asyncpg.Pool, clock: ManualClock
) -> None:
    store = EventStore(pool, clock)
    recorded = await store.append(
        "cus-1",
        [changed(), NoteTaken(text="张总同意下周到厂参观")],
        expected_version=0,
        metadata=META,
    )
    assert [r.stream_version for r in recorded] == [1, 2]
    assert recorded[0].position < recorded[1].position

    events = await store.read_stream("cus-1")
    assert [e.event_type for e in events] == ["DecisionStateChanged", "NoteTaken"]
    assert events[1].data == {"text": "张总同意下周到厂参观"}
    assert events[0].metadata == META
    assert events[0].recorded_at == clock.now()
    assert await store.stream_version("cus-1") == 2


async def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(
    pool: asyncpg.Pool,
) -> None:
    store = EventStore(pool)
    await store.append("cus-1", [changed(), changed()], expected_version=0, metadata=META)

    with pytest.raises(ConcurrencyConflict) as conflict:
        await store.append("cus-1", [changed()], expected_version=1, metadata=META)

    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert len(await store.read_stream("cus-1")) == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2


@pytest.mark.parametrize("expected", [0, 3])
async def test_creating_an_existing_stream_or_skipping_ahead_is_a_conflict(
    pool: asyncpg.Pool, expected: int
) -> None:
    store = EventStore(pool)
    await store.append("cus-1", [changed()], expected_version=0, metadata=META)
    with pytest.raises(ConcurrencyConflict):
        await store.append("cus-1", [changed()], expected_version=expected, metadata=META)
    assert await store.stream_version("cus-1") == 1


async def test_appending_to_a_missing_stream_at_a_version_is_a_conflict(pool: asyncpg.Pool) -> None:
    with pytest.raises(ConcurrencyConflict) as conflict:
        await EventStore(pool).append("nobody", [changed()], expected_version=4, metadata=META)
    assert conflict.value.actual == 0


async def test_of_concurrent_writers_at_one_version_exactly_one_wins(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    await store.append("cus-1", [changed()], expected_version=0, metadata=META)

    results = await asyncio.gather(
        *(store.append("cus-1", [changed()], expected_version=1, metadata=META) for _ in range(10)),
        return_exceptions=True,
    )

    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, ConcurrencyConflict) for r in results if isinstance(r, BaseException))
    assert await store.stream_version("cus-1") == 2


async def test_any_version_appends_after_whatever_is_there(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    await asyncio.gather(
        *(
            store.append("timers", [changed()], expected_version=None, metadata=META)
            for _ in range(8)
        )
    )
    versions = [e.stream_version for e in await store.read_stream("timers")]
    assert versions == list(range(1, 9))


async def test_only_published_language_events_get_an_outbox_row(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    recorded = await store.append(
        "cus-1", [NoteTaken(text="x"), changed()], expected_version=0, metadata=META
    )
    queued = await pool.fetch("SELECT position FROM outbox")
    assert [row["position"] for row in queued] == [recorded[1].position]


async def test_an_append_in_a_rolled_back_transaction_leaves_no_trace(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await store.append("cus-1", [changed()], expected_version=0, metadata=META, conn=conn)
        await transaction.rollback()
    assert await store.stream_version("cus-1") == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_read_all_returns_every_stream_after_a_position(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    first = await store.append("a", [changed()], expected_version=0, metadata=META)
    await store.append("b", [changed(), changed()], expected_version=0, metadata=META)

    after_first = await store.read_all(after_position=first[0].position)

    assert [(e.stream_id, e.stream_version) for e in after_first] == [("b", 1), ("b", 2)]


async def test_a_batch_appends_to_new_and_existing_streams_in_one_go(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    await store.append("old", [changed()], expected_version=0, metadata=META)
    batch = [
        StreamAppend("new-1", [changed(), NoteTaken(text="a")], 0),
        StreamAppend("old", [changed()], 1),
        StreamAppend("new-2", [changed()], 0),
    ]
    async with pool.acquire() as conn, conn.transaction():
        recorded = await store.append_many(batch, metadata=META, conn=conn)

    assert [[r.stream_version for r in stream] for stream in recorded] == [[1, 2], [2], [1]]
    assert [e.event_type for e in await store.read_stream("new-1")] == [
        "DecisionStateChanged",
        "NoteTaken",
    ]
    assert await store.stream_version("old") == 2
    # Three published-language events, the private NoteTaken stays out of the outbox.
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1 + 3


@pytest.mark.parametrize(
    "stale",
    [StreamAppend("old", [NoteTaken(text="x")], 0), StreamAppend("old", [NoteTaken(text="x")], 5)],
)
async def test_one_stale_stream_fails_the_whole_batch(
    pool: asyncpg.Pool, stale: StreamAppend
) -> None:
    store = EventStore(pool)
    await store.append("old", [changed()], expected_version=0, metadata=META)
    with pytest.raises(ConcurrencyConflict) as conflict:
        async with pool.acquire() as conn, conn.transaction():
            await store.append_many(
                [StreamAppend("new-1", [changed()], 0), stale], metadata=META, conn=conn
            )
    assert conflict.value.stream_id == "old"
    assert await store.stream_version("new-1") == 0
    assert await pool.fetchval("SELECT count(*) FROM events") == 1
