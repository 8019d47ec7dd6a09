"""Rebuild every read model from the event history into fresh tables, then switch over.

The service keeps answering from the live generation all along, and the live consumer
keeps writing it. The rebuild:

1. replays the inbox as one snapshot sees it, merging in memory (``FactBatch``), copies
   the rows into a new generation's tables and builds their indexes;
2. catches up, round after round, with the inbox rows that the previous round's
   snapshot did not see (found by their transaction id, not by ``seq``: a transaction
   that commits late can hold a lower ``seq`` than rows already read);
3. once a round is small, takes the switch lock (waiting for the consumer batches in
   flight and holding new ones back), applies the last rows and makes the new generation
   live in the same transaction.

Every event is applied exactly once: each inbox row is visible in exactly one of the
snapshots' differences. The generation before the new one is kept for readers that were
mid-query; older ones are dropped.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from salesops.db import DbConnection
from services.metrics import fact_sql, replay
from services.metrics.fact_batch import FactBatch
from services.metrics.generations import ReadModel

_UNSEEN = (
    f"{replay.ROWS} WHERE txid >= pg_snapshot_xmin($1::text::pg_snapshot)"
    " AND NOT pg_visible_in_snapshot(txid, $1::text::pg_snapshot) ORDER BY seq"
)
#: Below this many inbox rows a replay runs in this process (workers cost a second to start).
PARALLEL_FROM = 100_000


class RebuildAlreadyRunning(RuntimeError):
    """Another rebuild of the same read model holds the rebuild lock."""


@dataclass(frozen=True)
class RebuildReport:
    generation: int
    events: int
    rows: int
    replay_seconds: float
    total_seconds: float
    catch_up_rounds: int
    caught_up_events: int
    #: Peak memory of the process(es) that merged the history, in MiB.
    peak_rss_mb: float

    @property
    def events_per_second(self) -> float:
        """Replay throughput: history events read, projected, merged and copied per second."""
        return self.events / self.replay_seconds if self.replay_seconds else 0.0


async def _replay(
    conn: DbConnection,
    read_model: ReadModel,
    generation: int,
    dsn: str | None,
    chunk: int,
    parallel_from: int,
) -> tuple[int, int, str, float]:
    """Fill the new generation from the whole inbox as one snapshot sees it.

    Returns (events, rows, that snapshot, the peak RSS in MiB of whoever merged them).
    """
    schema = await read_model.create_generation(conn, generation, indexes=False)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot: str = await conn.fetchval("SELECT pg_current_snapshot()::text")
        size = await conn.fetchval("SELECT count(*) FROM inbox")
        if dsn is not None and size >= parallel_from:
            events, rows, rss = await replay.replay_in_parts(
                conn, dsn, read_model.schema, schema, chunk
            )
            return events, rows, snapshot, rss / 1024
        facts, events = await replay.replay_here(conn, chunk)
    rows = await fact_sql.copy_in(conn, schema, facts)
    return events, rows, snapshot, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _catch_up(conn: DbConnection, schema: str, seen: str) -> tuple[int, str]:
    """Apply the rows ``seen`` missed, as a new snapshot sees them; returns it."""
    async with conn.transaction(isolation="repeatable_read"):
        snapshot: str = await conn.fetchval("SELECT pg_current_snapshot()::text")
        applied = await _apply_unseen(conn, schema, seen)
    return applied, snapshot


async def _apply_unseen(conn: DbConnection, schema: str, seen: str) -> int:
    facts = FactBatch()
    applied = replay.merge_rows(facts, await conn.fetch(_UNSEEN, seen))
    await fact_sql.upsert(conn, schema, facts)
    return applied


async def rebuild(
    pool: asyncpg.Pool,
    read_model: ReadModel,
    *,
    chunk: int = 20_000,
    small_round: int = 2_000,
    max_rounds: int = 10,
    notify_channel: str | None = None,
    dsn: str | None = None,
    parallel_from: int = PARALLEL_FROM,
    after_replay: Callable[[], Awaitable[None]] | None = None,
) -> RebuildReport:
    """Rebuild into a new generation and make it live; see the module docstring.

    With the database's ``dsn``, a large history is replayed by worker processes, one per
    part (see ``replay``). ``after_replay`` runs once the history is copied in and before
    catching up (tests use it to write while a rebuild is half done).
    """
    started = time.perf_counter()
    lock = f"metrics-rebuild:{read_model.schema}"
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lock):
            raise RebuildAlreadyRunning(f"a rebuild of {read_model.schema!r} is running")
        try:
            generation = await read_model.active_generation(conn) + 1
            schema = read_model.generation_schema(generation)
            events, rows, seen, rss_mb = await _replay(
                conn, read_model, generation, dsn, chunk, parallel_from
            )
            replay_seconds = time.perf_counter() - started
            await fact_sql.create_indexes(conn, schema)
            await fact_sql.analyze(conn, schema)
            if after_replay is not None:
                await after_replay()
            rounds = caught_up = 0
            while rounds < max_rounds:
                applied, seen = await _catch_up(conn, schema, seen)
                rounds += 1
                caught_up += applied
                if applied <= small_round:
                    break
            async with conn.transaction():
                await read_model.hold_exclusive(conn)
                caught_up += await _apply_unseen(conn, schema, seen)
                await read_model.switch(conn, generation, events + caught_up)
                if notify_channel:
                    await conn.execute("SELECT pg_notify($1, $2)", notify_channel, schema)
            async with conn.transaction():
                await read_model.drop_older_than(conn, generation - 1)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", lock)
    return RebuildReport(
        generation=generation,
        events=events,
        rows=rows,
        replay_seconds=replay_seconds,
        total_seconds=time.perf_counter() - started,
        catch_up_rounds=rounds,
        caught_up_events=caught_up,
        peak_rss_mb=round(rss_mb, 1),
    )
