"""The outbox relay against real PostgreSQL and real NATS JetStream."""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import orjson
import pytest
from nats.js import JetStreamContext

from contracts.customers import DecisionStateChanged
from contracts.envelope import Envelope
from salesops.embedded import embedded_nats, free_port
from salesops.eventstore import EventMetadata, EventStore
from salesops.jetstream import connect_nats, ensure_service_stream
from salesops.outbox import OutboxRelay
from salesops.testing.waiting import eventually

pytestmark = pytest.mark.integration

META = EventMetadata(actor="p-rep-1")
EVENT = DecisionStateChanged.examples()[0]


async def stream_message_ids(js: JetStreamContext, stream: str) -> list[str]:
    """Every message id stored in the stream, read the way an outside subscriber would."""
    info = await js.stream_info(stream)
    ids: list[str] = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg(stream, seq)
        ids.append(Envelope.model_validate_json(message.data or b"").id)
    return ids


def relay_for(
    pool: asyncpg.Pool, js: JetStreamContext, schema: str, namespace: str, **kw: object
) -> OutboxRelay:
    return OutboxRelay(pool, js, service="customers", schema=schema, namespace=namespace, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def stream(js: JetStreamContext, namespace: str) -> str:
    return await ensure_service_stream(js, "customers", namespace)


async def test_concurrent_writers_with_late_commits_are_each_published_exactly_once(
    pool: asyncpg.Pool, js: JetStreamContext, schema: str, namespace: str, stream: str
) -> None:
    store = EventStore(pool)
    published: Counter[int] = Counter()
    relay = relay_for(
        pool,
        js,
        schema,
        namespace,
        batch_size=50,
        idle_interval=0.005,
        after_publish=lambda positions: published.update(positions),
    )
    writers, per_writer = 8, 60
    rng = random.Random(7)
    positions: list[int] = []

    async def writer(n: int) -> None:
        for i in range(per_writer):
            async with pool.acquire() as conn, conn.transaction():
                recorded = await store.append(
                    f"cus-{n}-{i}", [EVENT], expected_version=0, metadata=META, conn=conn
                )
                positions.extend(r.position for r in recorded)
                # Hold the transaction open: a lower position now commits after higher
                # ones, the gap a "position > last published" relay would fall into.
                if rng.random() < 0.3:
                    await asyncio.sleep(rng.random() * 0.02)

    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    await asyncio.gather(*(writer(n) for n in range(writers)))
    await eventually(lambda: _outbox_empty(pool), 30)
    stop.set()
    await relaying

    assert sorted(published) == sorted(positions)
    assert set(published.values()) == {1}, "some event was published twice"
    ids = await stream_message_ids(js, stream)
    assert len(ids) == len(set(ids)) == writers * per_writer


async def test_a_relay_stopped_between_publish_and_mark_republishes_and_jetstream_drops_it(
    pool: asyncpg.Pool, js: JetStreamContext, schema: str, namespace: str, stream: str
) -> None:
    store = EventStore(pool)
    for i in range(5):
        await store.append(f"cus-{i}", [EVENT], expected_version=0, metadata=META)

    def crash(positions: list[int]) -> None:
        raise RuntimeError("killed before marking")

    with pytest.raises(RuntimeError):
        await relay_for(pool, js, schema, namespace, after_publish=crash).publish_pending()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 5

    assert await relay_for(pool, js, schema, namespace).publish_pending() == 5
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert len(await stream_message_ids(js, stream)) == 5


async def test_only_one_of_two_relay_replicas_publishes(
    pool: asyncpg.Pool, js: JetStreamContext, schema: str, namespace: str, stream: str
) -> None:
    store = EventStore(pool)
    relays = [relay_for(pool, js, schema, namespace, idle_interval=0.005) for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    for i in range(100):
        await store.append(f"cus-{i}", [EVENT], expected_version=0, metadata=META)
    await eventually(lambda: _outbox_empty(pool), 20)
    stop.set()
    await asyncio.gather(*tasks)

    assert sorted(r.published_total for r in relays) == [0, 100]
    assert len(await stream_message_ids(js, stream)) == 100


@pytest.fixture
async def own_nats() -> AsyncIterator[tuple[Path, int]]:
    """A NATS server of this test's own, which the test may stop and start."""
    folder = Path(tempfile.mkdtemp(prefix="salesops-nats-restart-"))
    try:
        yield folder, free_port()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_events_written_while_nats_is_down_all_arrive_once_it_is_back(
    pool: asyncpg.Pool, schema: str, namespace: str, own_nats: tuple[Path, int]
) -> None:
    folder, port = own_nats
    store = EventStore(pool)
    stop = asyncio.Event()
    with embedded_nats(folder, port) as url:
        nc = await connect_nats(url, name="relay-under-test")
        js = nc.jetstream()
        stream = await ensure_service_stream(js, "customers", namespace)
        relay = relay_for(pool, js, schema, namespace, idle_interval=0.01, publish_timeout=1.0)
        relaying = asyncio.create_task(relay.run(stop))
        for i in range(20):
            await store.append(f"before-{i}", [EVENT], expected_version=0, metadata=META)
        await eventually(lambda: _published(relay, 20), 10)

    # NATS is down: commands still succeed, their events wait in the outbox.
    for i in range(30):
        await store.append(f"during-{i}", [EVENT], expected_version=0, metadata=META)
    await asyncio.sleep(0.3)  # let the relay try (and fail) against the stopped server
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 30

    with embedded_nats(folder, port):
        await eventually(lambda: _outbox_empty(pool), 30)
        ids = await stream_message_ids(js, stream)
        stop.set()
        await relaying
        await nc.close()

    assert len(ids) == len(set(ids)) == 50


async def _outbox_empty(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT count(*) FROM outbox")


async def _published(relay: OutboxRelay, count: int) -> bool:
    return relay.published_total >= count


async def test_an_append_in_this_process_wakes_the_relay_before_its_idle_tick(
    pool: asyncpg.Pool, js: JetStreamContext, schema: str, namespace: str, stream: str
) -> None:
    store = EventStore(pool)
    relay = relay_for(pool, js, schema, namespace, idle_interval=30.0)
    store.on_append = relay.wake
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))

    async def published() -> bool:
        return relay.published_total > 0

    try:
        await asyncio.sleep(0.3)  # the relay has looked once and waits for its idle tick
        await store.append("customer-cus-1", [EVENT], expected_version=0, metadata=META)
        await eventually(published, seconds=5)  # far less than the 30 s idle tick
    finally:
        stop.set()
        await running
    assert (await js.stream_info(stream)).state.messages == 1


def _rows_read_from(plan: dict[str, object], relation: str) -> int:
    """The rows the plan's scans of ``relation`` returned, all loops together."""
    found = 0
    if plan.get("Relation Name") == relation:
        found += int(plan["Actual Rows"]) * int(plan["Actual Loops"])  # type: ignore[call-overload]
    for child in plan.get("Plans", []):  # type: ignore[attr-defined]
        found += _rows_read_from(child, relation)
    return found


async def test_reading_the_pending_rows_reads_no_more_of_the_history_than_them(
    pool: asyncpg.Pool,
) -> None:
    # An outbox the statistics still count as full (filled and emptied all day), 20,000
    # events behind it: the plain join was merge-joined with the whole events index, a scan
    # from the first event ever stored on every poll (found by the soak: the relay's poll
    # became PostgreSQL's costliest statement within ten minutes).
    from salesops.outbox import _PENDING

    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO events (event_id, stream_id, stream_version, event_type,"
            " schema_version, data, metadata, recorded_at)"
            " SELECT gen_random_uuid(), 's-' || g, 1, 'X', 1, '{}', '{}', now()"
            " FROM generate_series(1, 20000) AS g"
        )
        await conn.execute("INSERT INTO outbox SELECT position FROM events")
        await conn.execute("ANALYZE events")
        await conn.execute("ANALYZE outbox")
        await conn.execute(
            "DELETE FROM outbox WHERE position < (SELECT max(position) - 4 FROM events)"
        )
        async with conn.transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await conn.execute(f"PREPARE pending(int) AS {_PENDING}")
            plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE pending(1000)")
            await conn.execute("DEALLOCATE pending")
    top = (orjson.loads(plan) if isinstance(plan, str | bytes) else plan)[0]["Plan"]
    assert _rows_read_from(top, "events") == 5
