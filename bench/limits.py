"""Section: the machine's raw limits, measured in the same run as everything else.

What the servers do for a client that does nothing else, on these same cores: one-row
transactions on an asyncpg pool (concurrency 16, autocommit: one INSERT each), rows
per second through COPY (rows shaped like the metrics inbox) and JetStream
acknowledged async publishes (with a ``Nats-Msg-Id`` each, as the relay sends them).
The service figures are read beside these: a service cannot go faster than its servers.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.measure import CpuMeter, cpu_cost, drive
from bench.report import figure
from bench.servers import Servers, fresh_database, fresh_namespace
from salesops.jetstream import connect_nats

log = logging.getLogger(__name__)

#: About the size of one stored event (a DecisionStateChanged with its metadata).
PAYLOAD = (
    '{"customer_id": "cus-0123456789ab", "from_state": "undecided", "to_state": "leaning",'
    ' "changed_by": "rep-zhang-wei", "changed_at": "2026-01-05T01:00:00+00:00",'
    ' "owner_id": "rep-zhang-wei", "org_unit_id": "group-east-1"}'
)
COPY_CHUNK = 50_000
PUBLISH_WINDOW = 2_000


async def _transactions(dsn: str, *, count: int, concurrency: int) -> dict[str, Any]:
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    try:
        await pool.execute(
            "CREATE TABLE one_row (id bigint PRIMARY KEY, data jsonb NOT NULL,"
            " at timestamptz NOT NULL DEFAULT now())"
        )

        async def insert(_worker: int, index: int) -> bool:
            await pool.execute("INSERT INTO one_row (id, data) VALUES ($1, $2)", index, PAYLOAD)
            return True

        await drive(insert, count=min(count // 10, 1000), concurrency=concurrency, start=-(10**9))
        meter = CpuMeter.for_pids({})
        meter.start()
        result = await drive(insert, count=count, concurrency=concurrency)
        cpu = meter.stop()
    finally:
        await pool.close()
    return {
        "mode": "pool.execute of one INSERT (autocommit: one transaction, one commit each)",
        **result.summary(),
        "cpu": cpu,
        **cpu_cost(cpu, result.per_second),
    }


async def _copy(dsn: str, *, rows: int) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE copied (event_id uuid PRIMARY KEY, subject text NOT NULL,"
            " schema_version integer NOT NULL, occurred_at timestamptz NOT NULL,"
            " actor text NOT NULL, data jsonb NOT NULL)"
        )
        at = datetime(2026, 1, 5, tzinfo=UTC)
        chunk = [
            (uuid.UUID(int=i), "sales.customers.decision_state_changed", 1, at, "rep", PAYLOAD)
            for i in range(min(rows, COPY_CHUNK))
        ]
        meter = CpuMeter.for_pids({})
        meter.start()
        began = time.perf_counter()
        copied = 0
        while copied < rows:
            size = min(COPY_CHUNK, rows - copied)
            # New ids per chunk (the key is unique), the rest reused: COPY is timed, not Python.
            records = [(uuid.UUID(int=copied + i), *chunk[i][1:]) for i in range(size)]
            await conn.copy_records_to_table(
                "copied",
                columns=["event_id", "subject", "schema_version", "occurred_at", "actor", "data"],
                records=records,
            )
            copied += size
        elapsed = time.perf_counter() - began
        cpu = meter.stop()
    finally:
        await conn.close()
    per_second = rows / elapsed if elapsed else 0.0
    return {
        "mode": "copy_records_to_table, chunks of 50,000 rows shaped like the metrics inbox"
        " (uuid primary key, jsonb payload)",
        "rows": rows,
        "seconds": round(elapsed, 3),
        "per_second": round(per_second, 1),
        "cpu": cpu,
    }


async def _publishes(nats_url: str, namespace: str, *, count: int) -> dict[str, Any]:
    nc = await connect_nats(nats_url, name="salesops-bench-limits")
    try:
        js = nc.jetstream()
        stream = f"{namespace.upper()}_LIMITS"
        subject = f"{namespace}.limits.publish"
        await js.add_stream(name=stream, subjects=[subject])
        body = PAYLOAD.encode() * 3  # about the size of an event's CloudEvents envelope
        meter = CpuMeter.for_pids({})
        meter.start()
        began = time.perf_counter()
        pending: list[asyncio.Future[Any]] = []
        for index in range(count):
            headers = {"Nats-Msg-Id": f"limits-{index}"}
            pending.append(await js.publish_async(subject, body, headers=headers))
            if len(pending) >= PUBLISH_WINDOW:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - began
        cpu = meter.stop()
        stored = (await js.stream_info(stream)).state.messages
    finally:
        await nc.close()
    per_second = count / elapsed if elapsed else 0.0
    return {
        "mode": f"js.publish_async with a Nats-Msg-Id, up to {PUBLISH_WINDOW} unacknowledged",
        "messages": count,
        "message_bytes": len(body),
        "seconds": round(elapsed, 3),
        "per_second": round(per_second, 1),
        "stored": stored,
        "verified": stored == count,
        "cpu": cpu,
        **cpu_cost(cpu, per_second),
    }


async def run_limits(
    servers: Servers, *, transactions: int, copy_rows: int, publishes: int, concurrency: int = 16
) -> dict[str, Any]:
    """The three raw limits, one after the other, on a database and namespace of their own."""
    async with (
        fresh_database(servers.admin_dsn) as dsn,
        fresh_namespace(servers.nats_url) as namespace,
    ):
        log.info("limits: %d one-row transactions at concurrency %d", transactions, concurrency)
        tx = await _transactions(dsn, count=transactions, concurrency=concurrency)
        log.info("limits: %.0f tx/s; COPY of %d rows", tx["per_second"], copy_rows)
        copy = await _copy(dsn, rows=copy_rows)
        log.info("limits: %.0f rows/s; %d JetStream publishes", copy["per_second"], publishes)
        published = await _publishes(servers.nats_url, namespace, count=publishes)
        log.info("limits: %.0f publishes/s", published["per_second"])
    return {
        "one_row_transactions": tx,
        "copy": copy,
        "jetstream_publishes": published,
        "figures": [
            figure("one-row transactions (c=16)", tx["per_second"], "tx/s", key="transactions"),
            figure("one-row transaction p99", tx["p99_ms"], "ms"),
            figure("COPY", copy["per_second"], "rows/s", key="copy"),
            figure("JetStream async publishes", published["per_second"], "msgs/s", key="publish"),
        ],
    }
