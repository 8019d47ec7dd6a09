"""Channels without a per-minute limit send a batch at once and record it in bulk.

Against a real PostgreSQL, with a channel that answers as told: every outcome is recorded
as the one-by-one path records it (attempt rows numbered on, the delivery's status, its
NotificationDelivered or NotificationFailed event), while the sends overlap.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from salesops.clock import ManualClock
from salesops.db import apply_migrations
from salesops.eventstore import EventStore
from salesops.recording import EventRecorder
from salesops.runtime_migrations import RUNTIME_MIGRATIONS
from services.notifier import store
from services.notifier.delivery import DeliveryPolicy, DeliveryWorker, Planned, plan_deliveries
from services.notifier.messages import DeliveryResult, OutgoingMessage, Recipient

pytestmark = pytest.mark.integration


class AnsweringChannel:
    """Answers each recipient as ``answers`` says (ok / retry / refuse), counting overlap."""

    name = "webhook"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.in_flight = 0
        self.most_in_flight = 0
        self.sent: list[str] = []

    def robot_key(self, recipient: Recipient) -> str:
        return "http://sink/hook"

    async def send(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        self.sent.append(recipient.person_id)
        answer = self.answers.get(recipient.person_id, "ok")
        if answer == "ok":
            return DeliveryResult(ok=True, provider_reply='{"ok":true}', status_code=200)
        if answer == "retry":
            return DeliveryResult(ok=False, provider_reply="busy", retryable=True, status_code=503)
        return DeliveryResult(ok=False, provider_reply="no such hook", status_code=404)


@pytest.fixture
async def notifier_pool(pool: asyncpg.Pool, schema: str) -> asyncpg.Pool:
    await apply_migrations(pool, schema, [*RUNTIME_MIGRATIONS, *store.MIGRATIONS])
    return pool


async def plan(pool: asyncpg.Pool, people: list[str], now: ManualClock) -> None:
    message = OutgoingMessage(title="超时", markdown="超时", text="超时", html="<p>超时</p>")
    async with pool.acquire() as conn:
        await plan_deliveries(
            conn,
            event_id="evt-1",
            event_type="TicketTimedOut",
            planned=[
                Planned(
                    person,
                    "webhook",
                    "http://sink/hook",
                    Recipient(person, person, "x"),
                    message,
                    True,
                )
                for person in people
            ],
            now=now.now(),
        )


async def test_a_batch_is_sent_at_once_and_every_outcome_recorded(
    notifier_pool: asyncpg.Pool, clock: ManualClock
) -> None:
    people = [f"p-{n}" for n in range(12)]
    channel = AnsweringChannel({"p-3": "retry", "p-7": "refuse"})
    worker = DeliveryWorker(
        notifier_pool,
        EventRecorder(EventStore(notifier_pool, clock), lambda _r, _e: []),
        {"webhook": channel},
        clock,
        policy=DeliveryPolicy(default_concurrent_sends=4),
    )
    await plan(notifier_pool, people, clock)

    assert await worker.tick() == 10
    assert sorted(channel.sent) == sorted(people)
    assert 1 < channel.most_in_flight <= 4  # together, but no more at once than allowed
    rows = {
        row["person_id"]: row
        for row in await notifier_pool.fetch("SELECT person_id, status, attempts FROM deliveries")
    }
    assert {
        p: (r["status"], r["attempts"]) for p, r in rows.items() if p in ("p-0", "p-3", "p-7")
    } == {
        "p-0": ("sent", 1),
        "p-3": ("pending", 1),
        "p-7": ("dead", 1),
    }
    events = await notifier_pool.fetch("SELECT event_type, count(*) AS n FROM events GROUP BY 1")
    assert {row["event_type"]: row["n"] for row in events} == {
        "NotificationDelivered": 10,
        "NotificationFailed": 1,
    }
    assert await notifier_pool.fetchval("SELECT count(*) FROM delivery_attempts") == 12

    # The retried one goes again after its back-off; its attempts number on from 1.
    channel.answers["p-3"] = "ok"
    clock.advance(timedelta(minutes=15))
    assert await worker.tick() == 1
    attempts = await notifier_pool.fetch(
        "SELECT a.attempt, a.ok FROM delivery_attempts a JOIN deliveries d USING (delivery_id)"
        " WHERE d.person_id = 'p-3' ORDER BY a.attempt"
    )
    assert [(row["attempt"], row["ok"]) for row in attempts] == [(1, False), (2, True)]
    assert (
        await notifier_pool.fetchval(
            "SELECT version FROM streams WHERE stream_id = (SELECT 'delivery-' || delivery_id"
            " FROM deliveries WHERE person_id = 'p-3')"
        )
        == 1
    )
