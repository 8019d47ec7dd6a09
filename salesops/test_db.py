"""Batched statements keep each stream's order while sharing round trips."""

from __future__ import annotations

import asyncpg
import pytest

from salesops.db import Statement, execute_batched

pytestmark = pytest.mark.integration


async def test_batched_statements_run_in_each_streams_order(pool: asyncpg.Pool) -> None:
    await pool.execute("CREATE TABLE notes (stream text PRIMARY KEY, text text NOT NULL)")
    insert = "INSERT INTO notes VALUES ($1, $2)"
    update = "UPDATE notes SET text = text || $2 WHERE stream = $1"
    per_stream: list[list[Statement]] = [
        [(insert, (f"s{i}", "a")), (update, (f"s{i}", "b")), (update, (f"s{i}", "c"))]
        for i in range(50)
    ]
    per_stream.append([(insert, ("short", "x"))])

    async with pool.acquire() as conn:
        await execute_batched(conn, per_stream)

    texts = {row["stream"]: row["text"] for row in await pool.fetch("SELECT * FROM notes")}
    assert texts["s0"] == texts["s49"] == "abc"
    assert texts["short"] == "x"
    assert len(texts) == 51
