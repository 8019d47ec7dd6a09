"""Read-side queries of the customers service (the tables of read_model.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from salesops.db import DbExecutor
from services.customers.read_model import COLUMNS


@dataclass(frozen=True)
class CustomerFilter:
    """Narrowing of a customer list; ``owner_ids`` None means every owner."""

    owner_ids: Sequence[str] | None = None
    org_unit_ids: Sequence[str] | None = None
    tier: str | None = None
    decision_state: str | None = None
    stale: bool | None = None
    red_flagged: bool | None = None


async def get_customer(db: DbExecutor, customer_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(f"SELECT {COLUMNS} FROM customers WHERE customer_id = $1", customer_id)


async def customer_id_by_external_key(db: DbExecutor, external_key: str) -> str | None:
    value = await db.fetchval(
        "SELECT customer_id FROM customers WHERE external_key = $1", external_key
    )
    return None if value is None else str(value)


async def customers_by_external_keys(
    db: DbExecutor, keys: Sequence[str]
) -> dict[str, asyncpg.Record]:
    rows = await db.fetch(
        f"SELECT {COLUMNS} FROM customers WHERE external_key = ANY($1::text[])", list(keys)
    )
    return {row["external_key"]: row for row in rows}


async def list_customers(
    db: DbExecutor, where: CustomerFilter, *, limit: int, offset: int
) -> list[asyncpg.Record]:
    """Customers sorted by last contact time, longest without contact (or never) first."""
    return await db.fetch(
        f"""
        SELECT {COLUMNS} FROM customers
        WHERE ($1::text[] IS NULL OR owner_id = ANY($1::text[]))
          AND ($2::text[] IS NULL OR org_unit_id = ANY($2::text[]))
          AND ($3::text IS NULL OR tier = $3)
          AND ($4::text IS NULL OR decision_state = $4)
          AND ($5::boolean IS NULL OR stale = $5)
          AND ($6::boolean IS NULL OR red_flag = $6)
        ORDER BY last_contact_at ASC NULLS FIRST, name, customer_id
        LIMIT $7 OFFSET $8
        """,
        where.owner_ids,
        where.org_unit_ids,
        where.tier,
        where.decision_state,
        where.stale,
        where.red_flagged,
        limit,
        offset,
    )


async def pending_negotiation_joins(db: DbExecutor, manager_id: str) -> list[asyncpg.Record]:
    """Customers whose negotiation ``manager_id`` must join and has not confirmed, due first."""
    return await db.fetch(
        f"SELECT {COLUMNS} FROM customers WHERE negotiation_manager_id = $1"
        " AND negotiation_status IN ('requested', 'overdue')"
        " ORDER BY negotiation_due_at, customer_id",
        manager_id,
    )


async def follow_ups(db: DbExecutor, customer_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM follow_ups WHERE customer_id = $1"
        " ORDER BY contacted_at DESC, logged_at DESC",
        customer_id,
    )


async def open_progress_reports(db: DbExecutor, supervisor_id: str) -> list[asyncpg.Record]:
    """A supervisor's to-do list: unanswered reports addressed to them or escalated to them."""
    return await db.fetch(
        "SELECT * FROM progress_reports WHERE answer IS NULL"
        " AND (supervisor_id = $1 OR escalated_to_id = $1) ORDER BY answer_due_at, report_id",
        supervisor_id,
    )


async def progress_report(db: DbExecutor, report_id: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM progress_reports WHERE report_id = $1", report_id)


async def next_action_statuses(db: DbExecutor) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT customer_id, owner_id, decision_state, next_action_updated_at FROM customers"
    )


async def contributions_by_rep(db: DbExecutor) -> dict[str, Decimal]:
    rows = await db.fetch(
        "SELECT owner_id, sum(estimated_contribution) AS total FROM customers GROUP BY owner_id"
    )
    return {row["owner_id"]: Decimal(row["total"]) for row in rows}
