"""Replaying the inbox into a new generation's tables, in this process or in several.

The facts of each source service land in tables of their own (customers: customer changes,
flags, follow-ups, next actions, reports, targets; tasks: tasks, concessions;
collaboration: tickets, stages, ratings; finance: invoices, payments, orders), so the
history splits by source without any row being touched by two parts. A large replay runs
the parts in worker processes, one core each, which read the inbox in one snapshot that
the coordinator exports (``pg_export_snapshot``, as ``pg_dump --jobs`` does) and copy
their own tables in. A small one runs here.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import asyncpg

from salesops.db import DbConnection, quote_ident
from services.metrics import fact_sql
from services.metrics.fact_batch import FactBatch
from services.metrics.facts import EventMeta
from services.metrics.inbox import stored_event
from services.metrics.projection import project

ROWS = "SELECT event_id, subject, schema_version, occurred_at, data::text AS data FROM inbox"
#: Source services replayed together in one worker process, balanced for the usual mix.
PARTS: tuple[tuple[str, ...], ...] = (("customers", "finance"), ("tasks", "collaboration"))


def merge_rows(facts: FactBatch, rows: Sequence[asyncpg.Record]) -> int:
    for row in rows:
        event = stored_event(row["subject"], row["schema_version"], row["data"])
        if event is not None:
            facts.add_all(project(event, EventMeta(row["event_id"], row["occurred_at"])))
    return len(rows)


def _rows_of(sources: Sequence[str] | None) -> str:
    if sources is None:
        return f"{ROWS} ORDER BY seq"
    return f"{ROWS} WHERE split_part(subject, '.', 2) = ANY($1::text[]) ORDER BY seq"


async def replay_here(
    conn: DbConnection, chunk: int, sources: Sequence[str] | None = None
) -> tuple[FactBatch, int]:
    """Merge the inbox (of ``sources``) as the caller's open transaction sees it."""
    facts = FactBatch()
    events = 0
    args = () if sources is None else (list(sources),)
    cursor = await conn.cursor(_rows_of(sources), *args)
    while rows := await cursor.fetch(chunk):
        events += merge_rows(facts, rows)
    return facts, events


async def _replay_part(
    dsn: str, schema: str, generation: str, snapshot: str, sources: Sequence[str], chunk: int
) -> tuple[int, int, int]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": f"{quote_ident(schema)}"})
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            facts, events = await replay_here(conn, chunk, sources)
        rows = await fact_sql.copy_in(conn, generation, facts)
    finally:
        await conn.close()
    return events, rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_part(*args: object) -> tuple[int, int, int]:  # the worker process's entry point
    return asyncio.run(_replay_part(*args))  # type: ignore[arg-type]


async def replay_in_parts(
    conn: DbConnection, dsn: str, schema: str, generation: str, chunk: int
) -> tuple[int, int, int]:
    """In the caller's open repeatable-read transaction: export its snapshot to one worker
    process per part and wait for them; returns (events, rows, the largest peak RSS in KiB)."""
    exported: str = await conn.fetchval("SELECT pg_export_snapshot()")
    # spawn, not fork: the parent runs an event loop and holds open connections.
    context = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=len(PARTS), mp_context=context) as pool:
        done = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, _run_part, dsn, schema, generation, exported, sources, chunk
                )
                for sources in PARTS
            )
        )
    return (
        sum(events for events, _, _ in done),
        sum(rows for _, rows, _ in done),
        max(rss for _, _, rss in done),
    )
