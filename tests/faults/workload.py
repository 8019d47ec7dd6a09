"""Commands the fault tests send, and what they read back to see nothing was lost."""

from __future__ import annotations

from typing import Any

import asyncpg

from salesops.db import quote_ident
from salesops.testing.apps import RunningService

REP = "rep-zhang-wei"
MANAGER = "sm-qian-wenbo"  # the rep's sales manager, on DingTalk
DIRECTOR = "sd-zhao-guoqiang"


async def register_customer(
    customers: RunningService, name: str, *, owner: str = REP, tier: str = "B"
) -> str:
    """Register a customer over HTTP; returns its id (the command must succeed)."""
    response = await customers.client.post(
        "/customers",
        json={"name": name, "tier": tier, "estimated_contribution": "1000.00"},
        headers=customers.auth(owner),
    )
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["customer_id"]
    return customer_id


async def change_decision_state(
    customers: RunningService, customer_id: str, state: str, *, actor: str = REP
) -> dict[str, Any]:
    response = await customers.client.put(
        f"/customers/{customer_id}/decision-state",
        json={"state": state},
        headers=customers.auth(actor),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def known_customers(database_url: str, schema: str) -> dict[str, tuple[str, str]]:
    """A consuming service's copy of the customers: id -> (name, owner)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            f"SELECT customer_id, name, owner_id FROM {quote_ident(schema)}.known_customers"
        )
    finally:
        await conn.close()
    return {r["customer_id"]: (r["name"], r["owner_id"]) for r in rows}
