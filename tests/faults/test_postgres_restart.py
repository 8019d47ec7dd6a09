"""Fault: PostgreSQL restarted under running services.

While it is down the services say so on /readyz and refuse commands (nothing is
acknowledged that is not stored); once it is back they recover by themselves — the pool
reconnects, the relay, the timer poller and the consumers carry on — and nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import asyncpg
import pytest
from nats.js import JetStreamContext

from contracts.customer_actions import NegotiationJoinOverdue
from contracts.subjects import dead_letter_stream_name, stream_name_for
from salesops.clock import ManualClock
from salesops.consumers import EventConsumers
from salesops.db import DbConnection, apply_migrations, create_pool
from salesops.jetstream import ensure_dead_letter_stream, ensure_service_stream
from salesops.runtime_migrations import RUNTIME_MIGRATIONS
from salesops.testing.apps import RunningService
from salesops.testing.events import decision_state_changed, publish_envelope, record_seen
from salesops.testing.waiting import eventually
from salesops.timers import DueTimer, TimerPoller, schedule_timer
from services.customers.service import CUSTOMERS
from services.tasks.service import TASKS

from .servers import PostgresNode, postgres_node
from .services import (
    Servers,
    caught_up,
    outbox_empty,
    published_event_ids,
    replica,
    stored_events,
    stream_event_ids,
)
from .workload import change_decision_state, known_customers, register_customer

pytestmark = pytest.mark.integration

CONSUMER = "tasks_customer_facts"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresNode]:
    with postgres_node() as started:  # initdb once; each test gets its own schemas
        yield started


@pytest.fixture
def postgres(server: PostgresNode) -> Iterator[PostgresNode]:
    yield server
    if not server.running:  # a test that failed midway leaves it up for the next one
        server.start()


async def test_services_are_not_ready_while_postgres_restarts_and_recover_by_themselves(
    postgres: PostgresNode,
    nats_url: str,
    js: JetStreamContext,
    namespace: str,
    schema: str,
    clock: ManualClock,
) -> None:
    dsn = postgres.dsn
    servers = Servers(dsn, nats_url, namespace)
    customers, tasks_schema = f"{schema}_c", f"{schema}_t"
    async with (
        replica(CUSTOMERS, servers, schema=customers, clock=clock, poll_timers=True) as cust,
        replica(TASKS, servers, schema=tasks_schema, clock=clock, poll_timers=True) as tasks,
    ):
        before = [await register_customer(cust, f"重启前 {i}") for i in range(10)]
        # Four negotiation-join deadlines (24 h), to fire after the restart.
        for customer_id in before[:4]:
            await change_decision_state(cust, customer_id, "intent_confirmed")

        async def tasks_knows(count: int) -> bool:
            return len(await known_customers(dsn, tasks_schema)) == count

        await eventually(lambda: tasks_knows(10), 15)

        postgres.stop()

        async def database_down(service: RunningService) -> bool:
            status, body = await service.readiness()
            return status == 503 and "database" in body

        await eventually(lambda: database_down(cust), 10)
        await eventually(lambda: database_down(tasks), 10)
        refused = await cust.client.post(
            "/customers",
            json={"name": "停机中", "tier": "B", "estimated_contribution": "1"},
            headers=cust.auth("rep-zhang-wei"),
        )
        assert refused.status_code >= 500, "a command cannot succeed without its database"
        # Long enough for every background loop to meet the outage, not only the first one.
        await asyncio.sleep(1.5)

        postgres.start()

        async def ready(service: RunningService) -> bool:
            return (await service.readiness())[0] == 200

        await eventually(lambda: ready(cust), 20)
        await eventually(lambda: ready(tasks), 20)
        after = [await register_customer(cust, f"重启后 {i}") for i in range(10)]
        await eventually(lambda: tasks_knows(20), 20)

        # The timer poller survived the restart: the deadlines fire, each once.
        clock.advance(timedelta(hours=25))

        async def overdue_fired() -> bool:
            rows = await stored_events(dsn, customers)
            overdue = [r for r in rows if r["event_type"] == NegotiationJoinOverdue.event_type()]
            return len(overdue) >= 4

        await eventually(overdue_fired, 15)
        await eventually(lambda: outbox_empty(dsn, customers), 20)
        await eventually(lambda: caught_up(js, "customers", namespace, CONSUMER), 20)

    rows = await stored_events(dsn, customers)
    assert sum(r["event_type"] == NegotiationJoinOverdue.event_type() for r in rows) == 4
    stored = published_event_ids(rows)
    in_stream = await stream_event_ids(js, "customers", namespace)
    assert len(in_stream) == len(set(in_stream))
    assert sorted(in_stream) == sorted(stored)
    assert set(await known_customers(dsn, tasks_schema)) == set(before + after)


@pytest.fixture
async def pool(postgres: PostgresNode, schema: str) -> AsyncIterator[asyncpg.Pool]:
    db = await create_pool(postgres.dsn, schema, min_size=1, max_size=5)
    await apply_migrations(db, schema, RUNTIME_MIGRATIONS)
    await db.execute("CREATE TABLE seen (event_id uuid PRIMARY KEY, customer_id text)")
    yield db
    await db.close()


async def test_events_arriving_while_the_database_is_down_are_not_dead_lettered(
    postgres: PostgresNode, pool: asyncpg.Pool, js: JetStreamContext, namespace: str
) -> None:
    # A handler failing because the database is away is no poison message: once it is
    # back the events must be applied, not parked in the dead-letter stream. A small retry
    # budget makes the outage outlast it many times over.
    await ensure_service_stream(js, "customers", namespace)
    await ensure_dead_letter_stream(js, namespace)
    consumers = EventConsumers(
        pool, js, service="metrics", namespace=namespace, max_attempts=3, retry_delay=0.05
    )
    consumers.subscribe("projection", source_service="customers", handler=record_seen)
    await consumers.start()
    try:
        postgres.stop()
        for i in range(5):
            await publish_envelope(js, decision_state_changed(namespace, f"cus-{i}"))

        async def redelivered_past_the_budget() -> bool:
            info = await js.consumer_info(
                stream_name_for("customers", namespace), "metrics_projection"
            )
            return (info.delivered.consumer_seq or 0) >= 5 * 3

        await eventually(redelivered_past_the_budget, 15)
        postgres.start()

        async def all_applied() -> bool:
            try:
                return bool(await pool.fetchval("SELECT count(*) = 5 FROM seen"))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                return False

        await eventually(all_applied, 15)
    finally:
        await consumers.stop()
    dead = await js.stream_info(dead_letter_stream_name(namespace))
    assert dead.state.messages == 0, "events were dead-lettered for an unreachable database"


async def test_a_restart_in_the_middle_of_firing_a_timer_does_not_stop_the_poller(
    postgres: PostgresNode, pool: asyncpg.Pool, clock: ManualClock
) -> None:
    await pool.execute("CREATE TABLE fired (timer_id text)")
    calls: list[str] = []
    stopped = asyncio.Event()

    async def restart_midway(conn: DbConnection, timer: DueTimer) -> None:
        calls.append(timer.timer_id)
        await conn.execute("INSERT INTO fired VALUES ($1)", timer.timer_id)
        if len(calls) == 1:
            # The server goes down under the handler: its transaction is lost with the
            # connection, and the poller meets a closed connection on the way out.
            await asyncio.to_thread(postgres.stop)
            stopped.set()

    async with pool.acquire() as conn:
        await schedule_timer(conn, "deadline-1", kind="deadline", due_at=clock.now())
    poller = TimerPoller(pool, clock, {"deadline": restart_midway}, poll_interval=0.05)
    stop = asyncio.Event()
    polling = asyncio.create_task(poller.run(stop))
    try:
        async with asyncio.timeout(10):
            await stopped.wait()
        await asyncio.sleep(0.3)  # a few polls against the stopped server
        await asyncio.to_thread(postgres.start)

        async def fired_once() -> bool:
            try:
                return bool(await pool.fetchval("SELECT count(*) = 1 FROM fired"))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                return False

        await eventually(fired_once, 15)
        assert not polling.done(), "the poller stopped for good"
    finally:
        stop.set()
        await polling
    assert calls == ["deadline-1", "deadline-1"]
    assert await pool.fetchval("SELECT fired_at IS NOT NULL FROM timers") is True
