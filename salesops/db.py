"""PostgreSQL connection pools and start-up migrations, one schema per service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
import asyncpg.pool
import orjson

#: A connection, whether taken from a pool or opened alone.
DbConnection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)
#: Something queries run on: a connection, or a pool that lends one per query.
DbExecutor: TypeAlias = "DbConnection | asyncpg.Pool[asyncpg.Record]"


@dataclass(frozen=True)
class Migration:
    """One forward-only schema change, applied once, in order, at start-up."""

    name: str
    sql: str


def quote_ident(name: str) -> str:
    """Quote a PostgreSQL identifier (schema names come from configuration)."""
    return '"' + name.replace('"', '""') + '"'


def _encode_json(value: Any) -> str:
    # Callers may pass JSON they serialised themselves (pydantic's model_dump_json).
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


async def _init_connection(conn: DbConnection) -> None:
    for type_name in ("jsonb", "json"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog"
        )


async def _no_session_state_to_reset(conn: DbConnection) -> None:
    return None


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 2, max_size: int = 20
) -> asyncpg.Pool:
    """A pool whose connections see ``schema`` first, creating the schema if needed."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    except asyncpg.UniqueViolationError:  # two replicas creating it at once
        pass
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        # asyncpg's default reset (unlock advisory locks, CLOSE ALL, UNLISTEN, RESET ALL) costs
        # a round trip on every release; nothing here leaves session state on a pooled
        # connection (the relay unlocks its leadership lock before releasing). An open
        # transaction is still rolled back by asyncpg itself.
        reset=_no_session_state_to_reset,
        server_settings={"search_path": f"{quote_ident(schema)},public"},
    )
    assert pool is not None
    return pool


async def apply_migrations(
    pool: asyncpg.Pool, schema: str, migrations: Sequence[Migration]
) -> list[str]:
    """Apply the migrations not yet applied; safe when several replicas start at once."""
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        # Serialise concurrent start-ups of the same service on this schema.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
        for migration in migrations:
            if migration.name in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", migration.name)
            applied.append(migration.name)
    return applied


#: One SQL statement with its arguments, to run now or later in a batch.
Statement: TypeAlias = tuple[str, tuple[Any, ...]]


async def execute_batched(conn: DbConnection, per_stream: Sequence[Sequence[Statement]]) -> None:
    """Run many streams' statements with few round trips, keeping each stream's order.

    Round *k* runs the *k*-th statement of every stream; within a round, statements with the
    same SQL go to the server together (``executemany`` pipelines them). Statements of
    different streams touch different rows, so only each stream's own order matters.
    """
    rounds = max((len(statements) for statements in per_stream), default=0)
    for k in range(rounds):
        grouped: dict[str, list[tuple[Any, ...]]] = {}
        for statements in per_stream:
            if k < len(statements):
                sql, args = statements[k]
                grouped.setdefault(sql, []).append(args)
        for sql, arg_list in grouped.items():
            if len(arg_list) == 1:
                await conn.execute(sql, *arg_list[0])
            else:
                await conn.executemany(sql, arg_list)
