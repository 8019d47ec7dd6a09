"""The customers table: the service's own read model, updated in the command's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from contracts.customers import CustomerRegistered, DecisionStateChanged
from salesops.db import DbConnection, DbExecutor, Migration
from salesops.eventstore import RecordedEvent

MIGRATIONS = (
    Migration(
        "1001_customers_read_model",
        """
        CREATE TABLE customers (
            customer_id text PRIMARY KEY,
            external_key text UNIQUE,
            name text NOT NULL,
            tier text NOT NULL,
            owner_id text NOT NULL,
            org_unit_id text NOT NULL,
            estimated_contribution numeric NOT NULL,
            decision_state text,
            last_contact_at timestamptz,
            registered_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            version integer NOT NULL
        );
        CREATE INDEX customers_by_owner ON customers (owner_id, last_contact_at DESC NULLS LAST);
        """,
    ),
)

COLUMNS = (
    "customer_id, external_key, name, tier, owner_id, org_unit_id, estimated_contribution,"
    " decision_state, last_contact_at, registered_at, updated_at, version"
)


async def apply(
    conn: DbConnection, recorded: Sequence[RecordedEvent], events: Sequence[Any]
) -> None:
    """Bring the customers table up to date with events just appended."""
    for stored, event in zip(recorded, events, strict=True):
        match event:
            case CustomerRegistered():
                await conn.execute(
                    f"INSERT INTO customers ({COLUMNS})"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, $8, $9)",
                    event.customer_id,
                    event.external_key,
                    event.name,
                    event.tier.value,
                    event.owner_id,
                    event.org_unit_id,
                    event.estimated_contribution,
                    event.registered_at,
                    stored.stream_version,
                )
            case DecisionStateChanged():
                await conn.execute(
                    "UPDATE customers SET decision_state = $2, updated_at = $3, version = $4"
                    " WHERE customer_id = $1",
                    event.customer_id,
                    event.to_state.value,
                    event.changed_at,
                    stored.stream_version,
                )


async def get(conn: DbExecutor, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM customers WHERE customer_id = $1", customer_id
    )


async def find_by_external_key(conn: DbConnection, external_key: str) -> str | None:
    value = await conn.fetchval(
        "SELECT customer_id FROM customers WHERE external_key = $1", external_key
    )
    return None if value is None else str(value)


async def list_customers(
    pool: asyncpg.Pool,
    *,
    owner_ids: Sequence[str] | None,
    decision_state: str | None,
    tier: str | None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    """Customers sorted by last contact (longest without contact first), then name."""
    return await pool.fetch(
        f"""
        SELECT {COLUMNS} FROM customers
        WHERE ($1::text[] IS NULL OR owner_id = ANY($1::text[]))
          AND ($2::text IS NULL OR decision_state = $2)
          AND ($3::text IS NULL OR tier = $3)
        ORDER BY last_contact_at ASC NULLS FIRST, name
        LIMIT $4 OFFSET $5
        """,
        owner_ids,
        decision_state,
        tier,
        limit,
        offset,
    )
