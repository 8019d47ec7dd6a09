"""Durable consumers against real NATS JetStream and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from nats.js import JetStreamContext

from contracts.envelope import Envelope
from contracts.subjects import dead_letter_subject
from salesops.consumers import EventConsumers, ReceivedEvent, _fitting, _header_bytes
from salesops.db import DbConnection
from salesops.jetstream import ensure_dead_letter_stream, ensure_service_stream
from salesops.testing.events import decision_state_changed, publish_envelope, record_seen
from salesops.testing.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def consumers(
    js: JetStreamContext, namespace: str, pool: asyncpg.Pool
) -> AsyncIterator[EventConsumers]:
    await ensure_service_stream(js, "customers", namespace)
    await ensure_dead_letter_stream(js, namespace)
    await pool.execute("CREATE TABLE seen (event_id uuid, customer_id text)")
    service_consumers = EventConsumers(
        pool, js, service="metrics", namespace=namespace, max_attempts=3, retry_delay=0.05
    )
    yield service_consumers
    await service_consumers.stop()


async def test_the_same_event_delivered_twice_changes_nothing_the_second_time(
    consumers: EventConsumers, pool: asyncpg.Pool, js: JetStreamContext, namespace: str
) -> None:
    consumers.subscribe("projection", source_service="customers", handler=record_seen)
    await consumers.start()
    env = decision_state_changed(namespace, "cus-1")
    await publish_envelope(js, env)
    await publish_envelope(js, env, msg_id="a-second-copy")  # the same event, stored twice
    await publish_envelope(js, decision_state_changed(namespace, "cus-2"))

    await eventually(lambda: _count(pool, "SELECT count(*) FROM seen WHERE customer_id = 'cus-2'"))
    assert await pool.fetchval("SELECT count(*) FROM seen WHERE customer_id = 'cus-1'") == 1


async def test_a_handler_that_fails_once_is_retried_and_counts_once(
    consumers: EventConsumers, pool: asyncpg.Pool, js: JetStreamContext, namespace: str
) -> None:
    failures = {"left": 1}

    async def flaky(conn: DbConnection, received: ReceivedEvent) -> None:
        await record_seen(conn, received)  # written, then rolled back by the failure
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("downstream hiccup")

    consumers.subscribe("projection", source_service="customers", handler=flaky)
    await consumers.start()
    await publish_envelope(js, decision_state_changed(namespace, "cus-1"))

    await eventually(lambda: _count(pool, "SELECT count(*) FROM seen"))
    await asyncio.sleep(0.2)
    assert await pool.fetchval("SELECT count(*) FROM seen") == 1


async def test_a_poison_message_ends_in_the_dead_letter_subject_and_the_rest_flow_on(
    consumers: EventConsumers, pool: asyncpg.Pool, js: JetStreamContext, namespace: str
) -> None:
    async def refuse_cus_bad(conn: DbConnection, received: ReceivedEvent) -> None:
        if received.envelope.subject == "cus-bad":
            raise ValueError("cannot project this customer")
        await record_seen(conn, received)

    dead = await js.subscribe(dead_letter_subject("metrics", "projection", namespace))
    consumers.subscribe("projection", source_service="customers", handler=refuse_cus_bad)
    await consumers.start()
    await publish_envelope(js, decision_state_changed(namespace, "cus-bad"))
    for i in range(5):
        await publish_envelope(js, decision_state_changed(namespace, f"cus-{i}"))

    letter = await dead.next_msg(timeout=15)
    assert Envelope.model_validate_json(letter.data).subject == "cus-bad"
    assert letter.headers is not None
    assert letter.headers["Salesops-Error"] == "ValueError: cannot project this customer"
    assert letter.headers["Salesops-Delivery-Attempts"] == "3"
    await eventually(lambda: _count(pool, "SELECT count(*) = 5 FROM seen"))


async def test_a_message_that_is_not_an_event_is_dead_lettered_at_once(
    consumers: EventConsumers, pool: asyncpg.Pool, js: JetStreamContext, namespace: str
) -> None:
    dead = await js.subscribe(dead_letter_subject("metrics", "projection", namespace))
    consumers.subscribe("projection", source_service="customers", handler=record_seen)
    await consumers.start()
    await js.publish(f"{namespace}.sales.customers.decision_state_changed", b"{not json")
    await publish_envelope(js, decision_state_changed(namespace, "cus-after"))

    letter = await dead.next_msg(timeout=15)
    assert letter.data == b"{not json"
    assert letter.headers is not None
    assert letter.headers["Salesops-Delivery-Attempts"] == "1"
    await eventually(lambda: _count(pool, "SELECT count(*) FROM seen"))


async def _count(pool: asyncpg.Pool, sql: str) -> bool:
    return bool(await pool.fetchval(sql))


async def record_all(conn: DbConnection, batch: Sequence[ReceivedEvent]) -> None:
    for received in batch:
        await record_seen(conn, received)


async def test_a_batch_subscription_counts_each_event_once_even_when_stored_twice(
    consumers: EventConsumers, pool: asyncpg.Pool, js: JetStreamContext, namespace: str
) -> None:
    sizes: list[int] = []

    async def remember(conn: DbConnection, batch: Sequence[ReceivedEvent]) -> None:
        sizes.append(len(batch))
        await record_all(conn, batch)

    first = decision_state_changed(namespace, "cus-1")
    await publish_envelope(js, first)
    await publish_envelope(js, first, msg_id="a-second-copy")
    for i in range(2, 31):
        await publish_envelope(js, decision_state_changed(namespace, f"cus-{i}"))
    consumers.subscribe_batch("projection", source_service="customers", handler=remember)
    await consumers.start()

    await eventually(lambda: _count(pool, "SELECT count(*) = 30 FROM seen"))
    assert await pool.fetchval("SELECT count(*) FROM seen WHERE customer_id = 'cus-1'") == 1
    # Waiting messages arrive together: fewer handler calls than events.
    assert len(sizes) < 30
    assert sum(sizes) == 30

    await publish_envelope(js, first, msg_id="a-third-copy")  # redelivered later, alone
    await publish_envelope(js, decision_state_changed(namespace, "cus-last"))
    await eventually(lambda: _count(pool, "SELECT count(*) = 31 FROM seen"))
    assert await pool.fetchval("SELECT count(*) FROM seen WHERE customer_id = 'cus-1'") == 1


async def test_a_failing_batch_is_split_so_only_the_poison_message_is_dead_lettered(
    consumers: EventConsumers, pool: asyncpg.Pool, js: JetStreamContext, namespace: str
) -> None:
    async def refuse_cus_bad(conn: DbConnection, batch: Sequence[ReceivedEvent]) -> None:
        for received in batch:
            if received.envelope.subject == "cus-bad":
                raise ValueError("cannot project this customer")
            await record_seen(conn, received)

    dead = await js.subscribe(dead_letter_subject("metrics", "projection", namespace))
    for i in range(3):
        await publish_envelope(js, decision_state_changed(namespace, f"cus-{i}"))
    await publish_envelope(js, decision_state_changed(namespace, "cus-bad"))
    for i in range(3, 6):
        await publish_envelope(js, decision_state_changed(namespace, f"cus-{i}"))
    consumers.subscribe_batch("projection", source_service="customers", handler=refuse_cus_bad)
    await consumers.start()

    letter = await dead.next_msg(timeout=15)
    assert Envelope.model_validate_json(letter.data).subject == "cus-bad"
    await eventually(lambda: _count(pool, "SELECT count(*) = 6 FROM seen"))
    assert await pool.fetchval("SELECT count(DISTINCT customer_id) FROM seen") == 6


def test_a_dead_letter_is_cut_to_fit_its_headers_under_the_servers_size_limit() -> None:
    # Over the limit, the server would close the consumer's whole connection.
    ours = {"Nats-Msg-Id": "m-1:c", "Salesops-Error": "e" * 1000}
    assert _fitting(b"d" * 1000, dict(ours), 10_000) == b"d" * 1000

    headers = dict(ours)
    cut = _fitting(b"d" * 10_000, headers, 10_000)
    assert len(cut) > 1000
    assert len(cut) + _header_bytes(headers) <= 10_000
    assert headers["Salesops-Payload-Truncated"] == f"kept the first {len(cut)} of 10000 bytes"

    foreign = {"X-Their-Trace": "t" * 9000, **ours}
    assert _fitting(b"d" * 100, foreign, 10_000) == b"d" * 100
    assert "X-Their-Trace" not in foreign
    assert foreign["Salesops-Headers-Dropped"] == "the original headers did not fit"
    assert foreign["Salesops-Error"] == "e" * 1000
