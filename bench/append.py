"""Section 1: in-process append throughput of the event store (events + outbox rows)."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from bench.measure import CpuMeter, Operation, cpu_cost, drive
from bench.report import figure
from bench.servers import Servers, fresh_database, unique_suffix
from contracts.customers import DecisionStateChanged
from salesops.db import apply_migrations, create_pool
from salesops.eventstore import EventMetadata, EventStore
from salesops.runtime_migrations import RUNTIME_MIGRATIONS

log = logging.getLogger(__name__)

GOAL_PER_SECOND = 3000
SCHEMA = "bench"
ACTOR = "rep-zhang-wei"


def _append_operation(
    pool: asyncpg.Pool, store: EventStore, run: str, *, explicit_transaction: bool
) -> Operation:
    """One command: append one DecisionStateChanged to its own new stream."""
    template = DecisionStateChanged.examples()[0]

    async def append(_worker: int, index: int) -> bool:
        customer_id = f"cus-{run}-{index}"
        event = template.model_copy(update={"customer_id": customer_id})
        metadata = EventMetadata(actor=ACTOR)
        if explicit_transaction:
            async with pool.acquire() as conn, conn.transaction():
                await store.append(
                    f"customer-{customer_id}",
                    [event],
                    expected_version=0,
                    metadata=metadata,
                    conn=conn,
                )
        else:
            await store.append(
                f"customer-{customer_id}", [event], expected_version=0, metadata=metadata
            )
        return True

    return append


async def _measure(
    pool: asyncpg.Pool,
    store: EventStore,
    *,
    commands: int,
    warmup: int,
    concurrency: int,
    explicit_transaction: bool,
) -> dict[str, Any]:
    operation = _append_operation(
        pool, store, unique_suffix(), explicit_transaction=explicit_transaction
    )
    await drive(operation, count=warmup, concurrency=concurrency)
    meter = CpuMeter.for_pids({})
    meter.start()
    result = await drive(operation, count=commands, concurrency=concurrency, start=warmup)
    cpu = meter.stop()
    return {**result.summary(), "cpu": cpu, **cpu_cost(cpu, result.per_second)}


async def run_append(
    servers: Servers, *, commands: int, warmup: int, concurrency: int
) -> dict[str, Any]:
    """Appends of one event each, every one its own transaction, at ``concurrency``.

    The headline figure is ``EventStore.append`` on the pool: one statement, so one
    transaction and one round trip. ``explicit_transaction`` wraps the same call in
    ``BEGIN``/``COMMIT`` on an acquired connection, as the HTTP handlers do.
    """
    async with fresh_database(servers.admin_dsn) as dsn:
        pool = await create_pool(dsn, SCHEMA, min_size=concurrency, max_size=concurrency)
        try:
            await apply_migrations(pool, SCHEMA, RUNTIME_MIGRATIONS)
            store = EventStore(pool)
            log.info("append: %d commands at concurrency %d", commands, concurrency)
            single = await _measure(
                pool,
                store,
                commands=commands,
                warmup=warmup,
                concurrency=concurrency,
                explicit_transaction=False,
            )
            log.info("append: %.0f/s; now inside BEGIN/COMMIT", single["per_second"])
            wrapped = await _measure(
                pool,
                store,
                commands=commands,
                warmup=warmup,
                concurrency=concurrency,
                explicit_transaction=True,
            )
            log.info("append in transaction: %.0f/s", wrapped["per_second"])
            events = await pool.fetchval("SELECT count(*) FROM events")
            outbox = await pool.fetchval("SELECT count(*) FROM outbox")
        finally:
            await pool.close()
    expected = 2 * (commands + warmup)
    return {
        "mode": "EventStore.append on the pool: one statement, one transaction"
        " (2 round trips: the statement, then asyncpg's reset query on release)",
        **single,
        "goal_per_second": GOAL_PER_SECOND,
        "goal_met": single["per_second"] >= GOAL_PER_SECOND,
        "explicit_transaction": {
            "mode": "pool.acquire + conn.transaction() around EventStore.append"
            " (4 round trips: BEGIN, append, COMMIT, reset on release), as the handlers do",
            **wrapped,
        },
        "verified": {
            "events": events,
            "outbox_rows": outbox,
            "expected": expected,
            "ok": events == outbox == expected,
        },
        "figures": [
            figure(
                "EventStore.append (c=16)",
                single["per_second"],
                "/s",
                at_least=GOAL_PER_SECOND,
                limit="transactions",
            ),
            figure("EventStore.append p99", single["p99_ms"], "ms"),
            figure("append inside BEGIN/COMMIT", wrapped["per_second"], "/s", limit="transactions"),
        ],
    }
