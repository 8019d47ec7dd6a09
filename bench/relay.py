"""Section 3: outbox relay throughput from PostgreSQL to NATS JetStream."""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg

from bench.measure import CpuMeter, cpu_cost, drive, latency_summary
from bench.report import figure
from bench.servers import Servers, fresh_database, fresh_namespace, unique_suffix
from contracts.customers import DecisionStateChanged
from salesops.db import apply_migrations, create_pool
from salesops.eventstore import EventMetadata, EventStore
from salesops.jetstream import connect_nats, ensure_service_stream
from salesops.outbox import OutboxRelay
from salesops.runtime_migrations import RUNTIME_MIGRATIONS

log = logging.getLogger(__name__)

GOAL_PER_SECOND = 20_000
SCHEMA = "customers"
SERVICE = "customers"
EVENTS_PER_APPEND = 500
FILL_CONCURRENCY = 4


async def prefill(pool: asyncpg.Pool, events: int) -> float:
    """Queue ``events`` DecisionStateChanged events in the outbox; returns seconds taken."""
    store = EventStore(pool)
    run = unique_suffix()
    template = DecisionStateChanged.examples()[0]
    batch = [template] * EVENTS_PER_APPEND
    appends = -(-events // EVENTS_PER_APPEND)

    async def append(_worker: int, index: int) -> bool:
        size = min(EVENTS_PER_APPEND, events - index * EVENTS_PER_APPEND)
        await store.append(
            f"customer-cus-{run}-{index}",
            batch[:size],
            expected_version=0,
            metadata=EventMetadata(actor="rep-zhang-wei"),
        )
        return True

    result = await drive(append, count=appends, concurrency=FILL_CONCURRENCY)
    return result.elapsed


async def run_relay(servers: Servers, *, events: int, batch_size: int) -> dict[str, Any]:
    """Time ``OutboxRelay.publish_pending`` until the outbox is empty, then check the stream."""
    async with (
        fresh_database(servers.admin_dsn) as dsn,
        fresh_namespace(servers.nats_url) as namespace,
    ):
        pool = await create_pool(dsn, SCHEMA, min_size=FILL_CONCURRENCY, max_size=FILL_CONCURRENCY)
        nc = await connect_nats(servers.nats_url, name="salesops-bench-relay")
        try:
            await apply_migrations(pool, SCHEMA, RUNTIME_MIGRATIONS)
            js = nc.jetstream()
            stream = await ensure_service_stream(js, SERVICE, namespace)
            log.info("relay: filling the outbox with %d events", events)
            fill_seconds = await prefill(pool, events)
            relay = OutboxRelay(
                pool,
                js,
                service=SERVICE,
                schema=SCHEMA,
                namespace=namespace,
                batch_size=batch_size,
            )
            batches: list[float] = []
            meter = CpuMeter.for_pids({})
            meter.start()
            began = time.perf_counter()
            while True:
                batch_began = time.perf_counter()
                if not await relay.publish_pending():
                    break
                batches.append(time.perf_counter() - batch_began)
            elapsed = time.perf_counter() - began
            cpu = meter.stop()
            in_stream = (await js.stream_info(stream)).state.messages
            left = await pool.fetchval("SELECT count(*) FROM outbox")
        finally:
            await nc.close()
            await pool.close()
    per_second = relay.published_total / elapsed if elapsed else 0.0
    log.info("relay: %.0f events/s", per_second)
    batch_latency = {
        key.replace("_ms", "_batch_ms"): value for key, value in latency_summary(batches).items()
    }
    return {
        "events": events,
        "batch_size": batch_size,
        "prefill_seconds": round(fill_seconds, 2),
        "published": relay.published_total,
        "seconds": round(elapsed, 3),
        "per_second": round(per_second, 1),
        "batches": len(batches),
        **batch_latency,
        "cpu": cpu,
        **cpu_cost(cpu, per_second),
        "stream": stream,
        "stream_messages": in_stream,
        "outbox_rows_left": left,
        "verified": in_stream == events and left == 0,
        "goal_per_second": GOAL_PER_SECOND,
        "goal_met": per_second >= GOAL_PER_SECOND,
        "figures": [
            figure(
                "outbox relay to JetStream",
                round(per_second, 1),
                "events/s",
                at_least=GOAL_PER_SECOND,
                limit="publish",
            ),
            figure("relay verified", float(in_stream == events and left == 0), "", equals=1),
        ],
    }
