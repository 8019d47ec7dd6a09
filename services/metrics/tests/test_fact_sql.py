"""The facts in PostgreSQL: live upserts and a bulk copy of the same events end equal."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from salesops.db import quote_ident
from services.metrics import fact_sql
from services.metrics.fact_batch import FactBatch
from services.metrics.facts import TABLES
from services.metrics.projection import project
from services.metrics.test_projection import history_of_one_quarter

pytestmark = pytest.mark.integration


async def table_rows(pool: asyncpg.Pool, schema: str) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for table in TABLES:
        keys = ", ".join(table.key_names)
        rows = await pool.fetch(f"SELECT * FROM {quote_ident(schema)}.{table.name} ORDER BY {keys}")
        found[table.name] = [dict(row) for row in rows]
    return found


async def test_upserting_batch_after_batch_gives_the_rows_a_bulk_copy_gives(
    pool: asyncpg.Pool, schema: str
) -> None:
    history = history_of_one_quarter()
    live, bulk = f"{schema}_live", f"{schema}_bulk"
    for name in (live, bulk):
        await pool.execute(f"CREATE SCHEMA {quote_ident(name)}")
        async with pool.acquire() as conn:
            await fact_sql.create_tables(conn, name, indexes=name == live)
    try:
        # Live: small batches, each upserted in its own transaction.
        for start in range(0, len(history), 3):
            batch = FactBatch()
            for event, meta in history[start : start + 3]:
                batch.add_all(project(event, meta))
            async with pool.acquire() as conn, conn.transaction():
                await fact_sql.upsert(conn, live, batch)
        # Bulk: everything merged at once, copied in, indexed afterwards.
        everything = FactBatch()
        for event, meta in history:
            everything.add_all(project(event, meta))
        async with pool.acquire() as conn:
            copied = await fact_sql.copy_in(conn, bulk, everything)
            await fact_sql.create_indexes(conn, bulk)
        assert copied == len(everything) > 10

        live_rows, bulk_rows = await table_rows(pool, live), await table_rows(pool, bulk)
        assert live_rows == bulk_rows
        stage = live_rows["stages"][0]
        assert stage["paused_seconds"] == 2 * 3600  # info requested at +14 h, supplied at +16 h
        assert stage["timed_out"] is True
        assert stage["on_time"] is False
    finally:
        for name in (live, bulk):
            await pool.execute(f"DROP SCHEMA {quote_ident(name)} CASCADE")
