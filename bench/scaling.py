"""Section: the same work over a growing history (10k, 100k and 1M stored events).

No step of a command, of the event's way to the metrics, of a rebuild or of a timer may
grow with the size of the history; this runs them quickly at each size and reports them
side by side. For each size, on a fresh database:

1. history is written with COPY (``bench.fill``): ``size`` events of old customers (with
   their streams and read-model rows), ``size`` events of finished tickets (with their
   rows and fired timers), and ``size`` synthetic events in the metrics inbox;
2. rebuild: the metrics read model is rebuilt from that inbox (its events/s at this size,
   and the facts the next steps add to);
3. http: the customers mix, on the old customers (closed loop, concurrency 32);
4. e2e: the end-to-end lag at 500 commands/s, on other old customers;
5. timers: a burst of deadlines due in one second, among the old tickets and timers.

The flatness figures divide the largest size's throughput by the smallest's.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bench.e2e import GOAL_P99_MS, measure_lag
from bench.fill import EVENTS_PER_CUSTOMER, customer_id, fill_collaboration, fill_customers
from bench.http import GOAL_P99_MS as HTTP_GOAL_P99_MS
from bench.http import GOAL_PER_SECOND as HTTP_GOAL_PER_SECOND
from bench.http import REP, CustomersMix, measure_mix, token
from bench.loadgen import HttpClient
from bench.rebuild import GOAL_PER_SECOND as REBUILD_GOAL_PER_SECOND
from bench.rebuild import prepare_metrics_schema, rebuild_filled
from bench.report import figure
from bench.servers import Servers, fresh_database, fresh_namespace
from bench.service import service_process
from bench.timers import GOAL_ALL_WITHIN_S, GOAL_P99_LATENESS_S, measure_burst
from contracts.customers import DecisionState
from salesops.db import apply_migrations, create_pool
from salesops.runtime_migrations import RUNTIME_MIGRATIONS
from services.collaboration.service import COLLABORATION
from services.customers.service import CUSTOMERS

log = logging.getLogger(__name__)

HTTP_WORKERS = 32
HTTP_CUSTOMERS_PER_WORKER = 16
E2E_LANES = 64
E2E_CUSTOMERS_PER_LANE = 4
#: Throughput at the largest size over that at the smallest: at least this is flat.
FLAT = 0.8
#: The state the filled customers are in (their last DecisionStateChanged).
FILLED_STATE = list(DecisionState)[(EVENTS_PER_CUSTOMER - 2) % len(DecisionState)]


async def _migrate(dsn: str) -> None:
    """The service schemas, so history can be copied in before the services start."""
    for definition in (CUSTOMERS, COLLABORATION):
        pool = await create_pool(dsn, definition.name, min_size=1, max_size=1)
        try:
            await apply_migrations(
                pool, definition.name, [*RUNTIME_MIGRATIONS, *definition.migrations]
            )
        finally:
            await pool.close()
    await prepare_metrics_schema(dsn)


def _owned(start: int, workers: int, per_worker: int, available: int) -> list[list[str]] | None:
    """Each worker's share of the filled customers from ``start``; None if too few."""
    if start + workers * per_worker > available:
        return None
    return [
        [customer_id(start + worker + workers * k) for k in range(per_worker)]
        for worker in range(workers)
    ]


async def _one_size(
    servers: Servers, size: int, *, http_commands: int, e2e_commands: int, timers: int
) -> dict[str, Any]:
    async with (
        fresh_database(servers.admin_dsn) as dsn,
        fresh_namespace(servers.nats_url) as namespace,
    ):
        log.info("scaling %s: filling %d events of each service", f"{size:,}", size)
        await _migrate(dsn)
        customers = await fill_customers(dsn, size, REP)
        tickets = await fill_collaboration(dsn, size, REP)
        rebuilt = await rebuild_filled(dsn, size)
        http_owned = _owned(0, HTTP_WORKERS, HTTP_CUSTOMERS_PER_WORKER, customers)
        e2e_owned = _owned(
            HTTP_WORKERS * HTTP_CUSTOMERS_PER_WORKER, E2E_LANES, E2E_CUSTOMERS_PER_LANE, customers
        )
        since = datetime.now(UTC)  # every event after this one is the run's, none history's
        async with service_process("customers", dsn, servers.nats_url, namespace) as service:
            bearer = token(REP)
            clients = [HttpClient.for_url(service.base_url, bearer) for _ in range(HTTP_WORKERS)]
            try:
                http = await measure_mix(
                    CustomersMix(clients, http_owned, FILLED_STATE if http_owned else None),
                    [service],
                    commands=http_commands,
                    warmup=max(50, http_commands // 10),
                    concurrency=HTTP_WORKERS,
                )
            finally:
                for client in clients:
                    client.close()
            async with service_process("metrics", dsn, servers.nats_url, namespace) as metrics:
                e2e = await measure_lag(
                    dsn,
                    service,
                    metrics,
                    commands=e2e_commands,
                    owned=e2e_owned,
                    state_now=FILLED_STATE if e2e_owned else None,
                    since=since,
                )
        async with service_process(
            "collaboration", dsn, servers.nats_url, namespace
        ) as collaboration:
            burst = await measure_burst(
                dsn, servers.nats_url, namespace, collaboration, timers=timers
            )
    within = burst["all_published_within_seconds"]
    result = {
        "stored_events": size,
        "filled": {"customers": customers, "tickets": tickets, "metrics_inbox": rebuilt["events"]},
        "on_filled_customers": {"http": http_owned is not None, "e2e": e2e_owned is not None},
        "http_customers_per_second": http["per_second"],
        "http_p99_ms": http["p99_ms"],
        "http_errors": http["errors"],
        "e2e_lag_p99_ms": e2e["lag"]["p99_ms"],
        "e2e_lag_p50_ms": e2e["lag"]["p50_ms"],
        "e2e_missing": e2e["missing_after_settle"] + e2e["errors"],
        "rebuild_events_per_second": rebuilt["per_second"],
        "timers_all_published_within_s": within,
        "timers_per_second": round(burst["published"] / within, 1) if within else None,
        "timers_p99_lateness_s": round(burst["publish_lateness"]["p99_ms"] / 1000, 3),
        "timers_published": burst["published"],
        "timers_duplicates": burst["duplicates"],
        "details": {"http": http, "e2e": e2e, "rebuild": rebuilt, "timers": burst},
    }
    log.info(
        "scaling %s: http %.0f/s p99 %.0f ms, e2e p99 %.0f ms, rebuild %.0f/s, timers %s s",
        f"{size:,}",
        http["per_second"],
        http["p99_ms"],
        e2e["lag"]["p99_ms"],
        rebuilt["per_second"],
        within,
    )
    return result


COLUMNS = (
    ("stored_events", "stored events"),
    ("http_customers_per_second", "http cmd/s"),
    ("http_p99_ms", "http p99 ms"),
    ("e2e_lag_p99_ms", "e2e p99 ms"),
    ("rebuild_events_per_second", "rebuild ev/s"),
    ("timers_all_published_within_s", "timers all in s"),
    ("timers_p99_lateness_s", "timers p99 late s"),
)


def scaling_table(rows: list[dict[str, Any]]) -> str:
    """The small table: one line per size."""
    lines = [[title for _, title in COLUMNS]]
    for row in rows:
        lines.append(
            [
                f"{row[key]:,.0f}"
                if isinstance(row[key], int | float) and abs(row[key]) >= 100
                else f"{row[key]}"
                for key, _ in COLUMNS
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    )


def _ratio(rows: list[dict[str, Any]], key: str) -> float | None:
    first, last = rows[0].get(key), rows[-1].get(key)
    if not first or last is None:
        return None
    return round(float(last) / float(first), 3)


def _figures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for row in rows:
        size = f"{row['stored_events']:,}"
        found += [
            figure(
                f"@{size}: http customers",
                row["http_customers_per_second"],
                "/s",
                at_least=HTTP_GOAL_PER_SECOND,
                limit="transactions",
            ),
            figure(f"@{size}: http p99", row["http_p99_ms"], "ms", below=HTTP_GOAL_P99_MS),
            figure(f"@{size}: e2e lag p99", row["e2e_lag_p99_ms"], "ms", below=GOAL_P99_MS),
            figure(
                f"@{size}: rebuild",
                row["rebuild_events_per_second"],
                "events/s",
                # The goal is the million's: a smaller history is replayed in one process
                # (parallel parts from PARALLEL_FROM), so its rate is lower, not a step
                # that grows with the history.
                at_least=REBUILD_GOAL_PER_SECOND if row["stored_events"] >= 1_000_000 else None,
                limit="copy",
            ),
            figure(
                f"@{size}: timers all published within",
                row["timers_all_published_within_s"],
                "s",
                at_most=GOAL_ALL_WITHIN_S,
            ),
            figure(
                f"@{size}: timers p99 lateness",
                row["timers_p99_lateness_s"],
                "s",
                below=GOAL_P99_LATENESS_S,
            ),
        ]
    if len(rows) > 1:
        span = f"{rows[-1]['stored_events']:,} vs {rows[0]['stored_events']:,}"
        for key, name in (
            ("http_customers_per_second", "http throughput"),
            ("rebuild_events_per_second", "rebuild throughput"),
            ("timers_per_second", "timer burst throughput"),
        ):
            found.append(figure(f"flat: {name} {span}", _ratio(rows, key), "x", at_least=FLAT))
        found.append(figure(f"flat: e2e lag p99 {span}", _ratio(rows, "e2e_lag_p99_ms"), "x"))
    return found


async def run_scaling(
    servers: Servers,
    *,
    sizes: tuple[int, ...],
    http_commands: int,
    e2e_commands: int,
    timers: int,
) -> dict[str, Any]:
    rows = [
        await _one_size(
            servers, size, http_commands=http_commands, e2e_commands=e2e_commands, timers=timers
        )
        for size in sizes
    ]
    return {
        "sizes": list(sizes),
        "per_size": rows,
        "table": scaling_table(rows).splitlines(),
        "figures": _figures(rows),
    }
