"""Section: rebuilding the metrics read models from an inbox of synthetic history.

The inbox is filled with ``bench.history`` events (COPY, not timed); then
``services.metrics.rebuild.rebuild`` replays it into a fresh generation and switches over.
The goal counts the replay: read, parse, project, merge and COPY into the new tables.
"""

from __future__ import annotations

import logging
import resource
import time
from typing import Any

import asyncpg

from bench.history import synthetic_history
from bench.measure import CpuMeter
from bench.report import figure
from bench.servers import Servers, fresh_database
from contracts.subjects import subject_for
from salesops.db import apply_migrations, create_pool
from salesops.orgdir import load_org_directory
from salesops.runtime_migrations import RUNTIME_MIGRATIONS
from salesops.settings import REPO_ROOT
from services.metrics import generations
from services.metrics.generations import ReadModel
from services.metrics.rebuild import rebuild

log = logging.getLogger(__name__)

GOAL_PER_SECOND = 50_000
SCHEMA = "metrics"
FILL_CHUNK = 50_000


async def fill_inbox(dsn: str, events: int) -> tuple[int, float]:
    """Copy ``events`` synthetic events into the inbox; returns (count, seconds)."""
    directory = load_org_directory(REPO_ROOT / "deploy" / "org.yaml")
    began = time.perf_counter()
    conn = await asyncpg.connect(dsn)  # plain codecs: COPY takes JSON text for jsonb
    count = 0
    try:
        rows: list[tuple[Any, ...]] = []
        for stored in synthetic_history(directory, events):
            event = stored.event
            rows.append(
                (
                    stored.event_id,
                    subject_for(event.service, event.event_type()),
                    event.schema_version,
                    stored.occurred_at,
                    "bench",
                    event.model_dump_json(),
                )
            )
            if len(rows) == FILL_CHUNK:
                count += await _copy(conn, rows)
                rows = []
        count += await _copy(conn, rows)
    finally:
        await conn.close()
    return count, time.perf_counter() - began


async def _copy(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> int:
    if rows:
        await conn.copy_records_to_table(
            "inbox",
            schema_name=SCHEMA,
            columns=["event_id", "subject", "schema_version", "occurred_at", "actor", "data"],
            records=rows,
        )
    return len(rows)


async def prepare_metrics_schema(dsn: str) -> None:
    """The metrics schema as the service makes it: its tables and generation 1."""
    pool = await create_pool(dsn, SCHEMA, min_size=1, max_size=2)
    try:
        await apply_migrations(pool, SCHEMA, [*RUNTIME_MIGRATIONS, *generations.MIGRATIONS])
        await ReadModel(SCHEMA).ensure(pool)
    finally:
        await pool.close()


async def rebuild_filled(dsn: str, events: int) -> dict[str, Any]:
    """Fill the inbox with ``events`` synthetic events (not timed), then time the rebuild."""
    log.info("rebuild: filling the inbox with %d events", events)
    filled, fill_seconds = await fill_inbox(dsn, events)
    pool = await create_pool(dsn, SCHEMA, min_size=1, max_size=4)
    try:
        await pool.execute("VACUUM ANALYZE inbox")
        read_model = ReadModel(SCHEMA)
        log.info("rebuild: replaying %d events", filled)
        meter = CpuMeter.for_pids({})
        meter.start()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report = await rebuild(pool, read_model, dsn=dsn)
        cpu = meter.stop()
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        live = await read_model.active_generation(pool)
    finally:
        await pool.close()
    per_second = report.events_per_second
    log.info("rebuild: %.0f events/s", per_second)
    return {
        "events": filled,
        "fill_seconds": round(fill_seconds, 2),
        "replay_seconds": round(report.replay_seconds, 3),
        "total_seconds": round(report.total_seconds, 3),
        "per_second": round(per_second, 1),
        "rows_written": report.rows,
        "generation_live": live,
        "cpu": cpu,
        "bench_process_peak_rss_mb": round(max(rss_before, rss_peak) / 1024, 1),
        "merging_processes_peak_rss_mb": report.peak_rss_mb,
        "note": "a history this large is merged by one worker process per part of the"
        " sources (see services/metrics/replay.py); their CPU shows as other_processes",
        "verified": report.events == filled and live == report.generation,
        "goal_per_second": GOAL_PER_SECOND,
        "goal_met": per_second >= GOAL_PER_SECOND,
    }


async def run_rebuild(servers: Servers, *, events: int) -> dict[str, Any]:
    async with fresh_database(servers.admin_dsn) as dsn:
        await prepare_metrics_schema(dsn)
        result = await rebuild_filled(dsn, events)
    peak = max(result["bench_process_peak_rss_mb"], result["merging_processes_peak_rss_mb"])
    result["figures"] = [
        figure(
            f"rebuild of {result['events']:,} events",
            result["per_second"],
            "events/s",
            at_least=GOAL_PER_SECOND,
            limit="copy",
        ),
        figure("rebuild verified", float(result["verified"]), "", equals=1),
        figure("rebuild peak RSS (per merging process)", peak, "MB"),
    ]
    return result
