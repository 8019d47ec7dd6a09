"""Generations of the read model: which schema of fact tables is live, and switching it.

The fact tables of one generation live in their own schema, ``<service schema>_rm<n>``.
Exactly one generation is active (table ``read_model``); queries read it, the live
consumer writes it. A rebuild fills generation n+1 beside it and switches over in one
transaction, so readers see the old tables or the new ones, never a half-built mix.

Consumers hold a shared advisory lock while they write a batch; the switch takes the
same lock exclusively, so it waits for the batches in flight and no batch can land in
the old generation after the switch.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from salesops.db import DbConnection, DbExecutor, Migration, quote_ident
from services.metrics import fact_sql

MIGRATIONS = (
    Migration(
        "5001_metrics_read_model",
        """
        -- Every event the service consumed, in arrival order: the history a rebuild replays.
        -- txid is the inserting transaction, so a rebuild can find the rows its snapshot
        -- did not see (a late commit can have a lower seq than rows already read).
        CREATE TABLE inbox (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            subject text NOT NULL,
            schema_version integer NOT NULL,
            occurred_at timestamptz NOT NULL,
            actor text NOT NULL,
            data jsonb NOT NULL,
            txid xid8 NOT NULL DEFAULT pg_current_xact_id()
        );
        CREATE INDEX inbox_txid ON inbox (txid);
        CREATE TABLE read_model (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            generation integer NOT NULL,
            switched_at timestamptz NOT NULL DEFAULT now(),
            events bigint
        );
        """,
    ),
)


@dataclass(frozen=True)
class ReadModel:
    """The read-model generations of one metrics schema."""

    schema: str

    @property
    def lock_name(self) -> str:
        return f"metrics-read-model:{self.schema}"

    def generation_schema(self, generation: int) -> str:
        return f"{self.schema}_rm{generation}"

    async def ensure(self, pool: asyncpg.Pool) -> None:
        """Create generation 1 the first time the service starts (once, with replicas)."""
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.lock_name)
            if await conn.fetchval("SELECT generation FROM read_model") is not None:
                return
            await self.create_generation(conn, 1, indexes=True)
            await conn.execute("INSERT INTO read_model (generation, events) VALUES (1, 0)")

    async def create_generation(self, conn: DbConnection, generation: int, *, indexes: bool) -> str:
        schema = self.generation_schema(generation)
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
        await fact_sql.create_tables(conn, schema, indexes=indexes)
        return schema

    async def active_generation(self, db: DbExecutor) -> int:
        generation = await db.fetchval("SELECT generation FROM read_model")
        if generation is None:
            raise RuntimeError(f"the read model of {self.schema!r} was never created")
        return int(generation)

    async def active_schema(self, db: DbExecutor) -> str:
        return self.generation_schema(await self.active_generation(db))

    async def hold_shared(self, conn: DbConnection) -> str:
        """In a writer's transaction: keep the generation from switching; returns its schema."""
        await conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext($1))", self.lock_name)
        return await self.active_schema(conn)

    async def hold_exclusive(self, conn: DbConnection) -> None:
        """In the switch's transaction: wait until no writer is in flight, keep new ones out."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.lock_name)

    async def switch(self, conn: DbConnection, generation: int, events: int) -> None:
        """Make ``generation`` the live one (inside a transaction holding the exclusive lock)."""
        await conn.execute(
            "UPDATE read_model SET generation = $1, events = $2, switched_at = now()",
            generation,
            events,
        )

    async def drop_older_than(self, conn: DbConnection, generation: int) -> list[str]:
        """Drop every generation schema below ``generation``; returns what was dropped."""
        rows = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            f"{self.schema}_rm%",
        )
        dropped = []
        prefix = f"{self.schema}_rm"
        for row in rows:
            name: str = row["nspname"]
            suffix = name[len(prefix) :]
            if name.startswith(prefix) and suffix.isdigit() and int(suffix) < generation:
                await conn.execute(f"DROP SCHEMA {quote_ident(row['nspname'])} CASCADE")
                dropped.append(row["nspname"])
        return dropped
