"""Section: end-to-end lag, from an HTTP command's response to its figure in the metrics.

The customers and metrics services run in processes of their own. Commands of the
customers mix go out open-loop at a steady rate (500/s for the goal); each response
names the customer and the event's own time (``updated_at`` / ``registered_at``). The
event travels: the command's transaction (event + outbox row) -> the customers relay ->
JetStream -> the metrics consumer -> one transaction that writes the inbox row and the
facts and sends ``NOTIFY metrics_changes:<schema>``.

This process LISTENs on that channel; on each notification (and every 20 ms in case one
was missed) it reads the inbox rows it has not seen and matches them to the commands by
(customer id, event time). A row is counted visible at the moment the reading query
started: its transaction had committed by then (the inbox row and the facts commit
together, so the figure was visible too). That is an upper bound, late by at most the
time between the commit and the query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.http import CUSTOMERS_PER_WORKER, REP, CustomersMix, token
from bench.loadgen import HttpClient, HttpError, open_loop
from bench.measure import CpuMeter, RssSampler, drive, latency_summary
from bench.report import figure
from bench.servers import Servers, fresh_database, fresh_namespace
from bench.service import ServiceProcess, service_process
from contracts.customers import DecisionState
from services.metrics.service import changes_channel

log = logging.getLogger(__name__)

GOAL_P99_MS = 200.0
RATE = 500.0
LANES = 64
SETTLE_TIMEOUT = 30.0
_NEW_ROWS = """
SELECT seq, data->>'customer_id' AS customer_id,
       coalesce(data->>'changed_at', data->>'logged_at', data->>'registered_at') AS at
FROM metrics.inbox
WHERE seq > $1 AND subject = ANY($2::text[])
ORDER BY seq
"""
_SUBJECTS = [
    "sales.customers.customer_registered",
    "sales.customers.decision_state_changed",
    "sales.customers.follow_up_logged",
]
#: Rows can commit out of seq order (concurrent consumers); re-read this far back.
_REREAD = 500

Key = tuple[str, datetime]


def _key(customer_id: str, at: str) -> Key:
    return customer_id, datetime.fromisoformat(at)


class VisibilityTracker:
    """Which (customer, event time) pairs are in the metrics inbox, and since when."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self.visible_at: dict[Key, float] = {}
        self._seen: set[int] = set()
        self._high = 0
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._listener: asyncpg.Connection | None = None
        self.notifications = 0
        self.reads = 0

    def _notified(self, *_args: object) -> None:
        self.notifications += 1
        self._wake.set()

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._dsn)
        self._listener = await asyncpg.connect(self._dsn)
        await self._listener.add_listener(changes_channel("metrics"), self._notified)
        self._high = int(
            await self._conn.fetchval("SELECT coalesce(max(seq), 0) FROM metrics.inbox")
        )
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._conn is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.02)
            self._wake.clear()
            began = time.perf_counter()
            rows = await self._conn.fetch(_NEW_ROWS, max(0, self._high - _REREAD), _SUBJECTS)
            self.reads += 1
            for row in rows:
                seq = row["seq"]
                if seq in self._seen:
                    continue
                self._seen.add(seq)
                self._high = max(self._high, seq)
                if row["customer_id"] and row["at"]:
                    self.visible_at.setdefault(_key(row["customer_id"], row["at"]), began)
            if rows:
                self._progress.set()

    async def wait_for(self, keys: Iterable[Key]) -> None:
        """Until every one of ``keys`` is visible (the caller bounds the wait)."""
        wanted = set(keys)
        while not wanted <= self.visible_at.keys():
            self._progress.clear()
            await self._progress.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for conn in (self._listener, self._conn):
            if conn is not None:
                await conn.close()


async def caught_up(dsn: str, since: datetime) -> None:
    """Until the metrics inbox holds every customers event recorded since ``since``
    (at most a minute)."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(600):
            behind = await conn.fetchval(
                "SELECT (SELECT count(*) FROM customers.events WHERE recorded_at >= $1)"
                " - (SELECT count(*) FROM metrics.inbox"
                "    WHERE subject LIKE 'sales.customers.%' AND occurred_at >= $1)",
                since,
            )
            if behind <= 0:
                return
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def measure_lag(
    dsn: str,
    customers: ServiceProcess,
    metrics: ServiceProcess,
    *,
    commands: int,
    rate: float = RATE,
    owned: list[list[str]] | None = None,
    state_now: DecisionState | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """Open-loop commands at ``rate``; the lag of each one until the metrics inbox has it.

    ``owned``: each lane's existing customers, all in ``state_now`` (else each registers
    its own first). Timing starts once the metrics hold every customers event recorded
    since ``since`` (default: now), so the lag is not measured behind a backlog.
    """
    since = since or datetime.now(UTC)
    bearer = token(REP)
    clients = [HttpClient.for_url(customers.base_url, bearer) for _ in range(LANES)]
    mix = CustomersMix(clients, owned, state_now)
    tracker = VisibilityTracker(dsn)
    responded: dict[Key, float] = {}
    try:
        if owned is None:
            # Fewer customers per lane than the throughput run: 64 lanes share the rate.
            async def register(worker: int, index: int) -> bool:
                customer_id = await mix.register(worker, index)
                if customer_id is not None:
                    mix.owned[worker].append(customer_id)
                return customer_id is not None

            await drive(register, count=LANES * (CUSTOMERS_PER_WORKER // 4), concurrency=LANES)
        await caught_up(dsn, since)
        await tracker.start()

        async def command(index: int) -> bool:
            worker = index % LANES
            try:
                ok = await mix.command(worker, index)
            except (HttpError, OSError, TimeoutError) as exc:
                return mix.failed(exc)
            if ok:
                responded[_key(*mix.last[worker])] = time.perf_counter()
            return ok

        pids = {"customers": [customers.pid], "metrics": [metrics.pid]}
        meter = CpuMeter.for_pids(pids)
        async with RssSampler(pids) as rss:
            meter.start()
            # A bound, so that a stuck run fails this figure instead of the whole benchmark.
            async with asyncio.timeout(commands / rate * 3 + 60):
                result = await open_loop(command, count=commands, rate=rate, lanes=LANES)
            cpu = meter.stop()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE_TIMEOUT):
                    await tracker.wait_for(responded.keys())
    finally:
        await tracker.stop()
        for client in clients:
            client.close()
    lags = [
        tracker.visible_at[key] - at for key, at in responded.items() if key in tracker.visible_at
    ]
    missing = len(responded) - len(lags)
    summary = latency_summary(lags)
    return {
        **result.summary(),
        "mix": mix.describe,
        "statuses": mix.statuses,
        "error_samples": mix.error_samples,
        "lag": summary,
        "lag_negative": sum(1 for lag in lags if lag < 0),
        "matched": len(lags),
        "missing_after_settle": missing,
        "notifications": tracker.notifications,
        "inbox_reads": tracker.reads,
        "peak_rss_mb": rss.peak_mb(),
        "cpu": cpu,
    }


def lag_figures(result: dict[str, Any], label: str = "") -> list[dict[str, Any]]:
    prefix = f"{label} " if label else ""
    return [
        figure(
            f"{prefix}e2e lag p50 at {result['target_per_second']:g}/s",
            result["lag"]["p50_ms"],
            "ms",
        ),
        figure(
            f"{prefix}e2e lag p99 at {result['target_per_second']:g}/s",
            result["lag"]["p99_ms"],
            "ms",
            below=GOAL_P99_MS,
            limit="publish",
        ),
        figure(
            f"{prefix}e2e achieved rate",
            result["achieved_per_second"],
            "/s",
            at_least=0.95 * result["target_per_second"],
        ),
        figure(
            f"{prefix}e2e events not seen",
            result["missing_after_settle"] + result["errors"],
            "",
            equals=0,
        ),
    ]


async def run_e2e(servers: Servers, *, commands: int, rate: float = RATE) -> dict[str, Any]:
    """Customers and metrics in their own processes; ``commands`` at ``rate`` per second."""
    async with (
        fresh_database(servers.admin_dsn) as dsn,
        fresh_namespace(servers.nats_url) as namespace,
        service_process("customers", dsn, servers.nats_url, namespace) as customers,
        service_process("metrics", dsn, servers.nats_url, namespace) as metrics,
    ):
        log.info("e2e: %d commands at %.0f/s", commands, rate)
        result = await measure_lag(dsn, customers, metrics, commands=commands, rate=rate)
        log.info(
            "e2e: lag p50 %.1f ms, p99 %.1f ms", result["lag"]["p50_ms"], result["lag"]["p99_ms"]
        )
    rss = result["peak_rss_mb"]
    return {
        **result,
        "figures": [
            *lag_figures(result),
            figure("customers peak RSS (e2e)", rss["customers"], "MB", below=200),
            figure("metrics peak RSS (e2e)", rss["metrics"], "MB", below=200),
        ],
    }
