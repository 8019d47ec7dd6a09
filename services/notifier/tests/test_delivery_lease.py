"""A sender killed mid-batch repeats only the message it had in flight, not the batch.

No chat platform takes an idempotency key, so a message the robot accepted just before
the process died cannot be known as sent; everything recorded before it must not go again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from salesops.clock import ManualClock
from salesops.eventstore import EventStore
from salesops.recording import EventRecorder
from services.notifier.delivery import LEASE, DeliveryPolicy, DeliveryWorker
from services.notifier.messages import DeliveryResult, OutgoingMessage, Recipient
from services.notifier.tests.test_delivery_together import notifier_pool, plan

pytestmark = pytest.mark.integration
__all__ = ["notifier_pool"]  # the fixture, used by name


class DyingRobot:
    """A rate-limited robot (DingTalk-like) whose sender process dies during send number
    ``dies_at``: the robot has accepted that message, the sender never hears so."""

    name = "webhook"

    def __init__(self, dies_at: int) -> None:
        self.dies_at = dies_at
        self.received: list[str] = []
        self.dead = asyncio.Event()

    def robot_key(self, recipient: Recipient) -> str:
        return "https://oapi.example/robot"

    async def send(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult:
        self.received.append(recipient.person_id)
        if len(self.received) == self.dies_at:
            self.dead.set()
            await asyncio.Event().wait()  # killed here: the answer is never read
        return DeliveryResult(ok=True, provider_reply='{"errcode":0}', status_code=200)


def worker_for(
    pool: asyncpg.Pool, robot: DyingRobot, clock: ManualClock, per_minute: int = 100
) -> DeliveryWorker:
    return DeliveryWorker(
        pool,
        EventRecorder(EventStore(pool, clock), lambda _r, _e: []),
        {"webhook": robot},
        clock,
        # One at a time, as the chat robots with their per-minute limits are sent.
        policy=DeliveryPolicy(per_minute={"webhook": per_minute}),
    )


async def test_a_kill_mid_batch_repeats_only_the_message_in_flight(
    notifier_pool: asyncpg.Pool, clock: ManualClock
) -> None:
    people = [f"p-{n:02d}" for n in range(10)]
    await plan(notifier_pool, people, clock)
    robot = DyingRobot(dies_at=4)
    sending = asyncio.create_task(worker_for(notifier_pool, robot, clock).tick())
    await asyncio.wait_for(robot.dead.wait(), 10)
    sending.cancel()  # the process dies with the fourth message in flight
    with pytest.raises(asyncio.CancelledError):
        await sending

    sent = await notifier_pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'")
    assert sent == 3  # the three answered before the kill stay sent

    # A restarted worker picks the rest up once the dead one's lease has run out.
    survivor = DyingRobot(dies_at=0)
    restarted = worker_for(notifier_pool, survivor, clock)
    assert await restarted.tick() == 0  # still leased to the dead worker
    clock.advance(LEASE + timedelta(seconds=1))
    assert await restarted.tick() == 7
    assert sorted(robot.received[:3] + survivor.received) == people
    assert survivor.received[0] == robot.received[3]  # the one in flight, sent again
    assert len(robot.received) + len(survivor.received) == len(people) + 1


async def test_a_robot_over_its_limit_defers_its_whole_backlog_in_one_go(
    notifier_pool: asyncpg.Pool, clock: ManualClock
) -> None:
    # 120 messages for one robot allowed 20 a minute: the first batch sends 20 and the 21st
    # finds the window full, so every message of the robot waits for the window with it; no
    # later batch claims and counts the backlog one by one (every minute, for a busy robot).
    await plan(notifier_pool, [f"p-{n:03d}" for n in range(120)], clock)
    robot = DyingRobot(dies_at=0)
    worker = worker_for(notifier_pool, robot, clock, per_minute=20)
    assert await worker.send_due(50) == (20, 50)
    assert await worker.send_due(50) == (0, 0)
    waits = await notifier_pool.fetch(
        "SELECT next_attempt_at, count(*) AS n FROM deliveries WHERE status = 'pending' GROUP BY 1"
    )
    window_ends = clock.now() + timedelta(minutes=1, microseconds=1)
    assert [(row["next_attempt_at"], row["n"]) for row in waits] == [(window_ends, 100)]
    clock.advance(timedelta(minutes=1, seconds=1))
    assert await worker.tick() == 20
    assert len(robot.received) == 40
