"""Fault: every process of a service down while many of its deadlines fall due.

The deadlines are rows in PostgreSQL, so nothing is missed while no poller runs; when the
service comes back — here as two replicas at once, racing for the backlog — each timer
fires exactly once, and its event reaches the stream once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from nats.js import JetStreamContext

from contracts.customer_actions import NegotiationJoinOverdue
from salesops.clock import ManualClock
from salesops.db import quote_ident
from salesops.testing.apps import drop_schemas
from salesops.testing.waiting import eventually
from services.customers.service import CUSTOMERS

from .services import Servers, outbox_empty, replica, stream_envelopes
from .workload import change_decision_state, register_customer

pytestmark = pytest.mark.integration

DEADLINES = 40
OVERDUE = NegotiationJoinOverdue.event_type()


@pytest.fixture
async def own_schema(database_url: str, schema: str) -> AsyncIterator[str]:
    yield schema
    await drop_schemas(database_url, schema)


async def overdue_per_customer(database_url: str, schema: str) -> Counter[str]:
    """How often each customer's negotiation-join deadline fired (its events in the store)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            f"SELECT data->>'customer_id' AS customer_id FROM {quote_ident(schema)}.events"
            " WHERE event_type = $1",
            OVERDUE,
        )
    finally:
        await conn.close()
    return Counter(r["customer_id"] for r in rows)


async def test_deadlines_due_while_the_service_was_down_each_fire_once_after_start(
    database_url: str,
    nats_url: str,
    js: JetStreamContext,
    namespace: str,
    own_schema: str,
    clock: ManualClock,
) -> None:
    servers = Servers(database_url, nats_url, namespace)
    async with replica(CUSTOMERS, servers, schema=own_schema, clock=clock) as customers:
        waiting = [await register_customer(customers, f"待办 {i}") for i in range(DEADLINES)]
        for customer_id in waiting:
            # intent_confirmed: the sales manager must confirm joining within 24 h.
            await change_decision_state(customers, customer_id, "intent_confirmed")
    # Every process is down now; two days pass over 40 unconfirmed 24 h deadlines.
    clock.advance(timedelta(days=2))
    assert not await overdue_per_customer(database_url, own_schema)

    async with (
        replica(CUSTOMERS, servers, schema=own_schema, clock=clock, poll_timers=True),
        replica(CUSTOMERS, servers, schema=own_schema, clock=clock, poll_timers=True),
    ):

        async def all_fired() -> bool:
            fired = await overdue_per_customer(database_url, own_schema)
            return sum(fired.values()) >= DEADLINES

        await eventually(all_fired, 20)
        await asyncio.sleep(1)  # both pollers go on polling: nothing may fire a second time

        await eventually(lambda: outbox_empty(database_url, own_schema), 20)

    fired = await overdue_per_customer(database_url, own_schema)
    assert fired == Counter(dict.fromkeys(waiting, 1)), "each deadline fires exactly once"
    in_stream = Counter(
        envelope.event_as(NegotiationJoinOverdue).customer_id
        for envelope in await stream_envelopes(js, "customers", namespace)
        if envelope.type == NegotiationJoinOverdue.subject(namespace)
    )
    assert in_stream == fired, "and each overdue event reaches the stream once"
