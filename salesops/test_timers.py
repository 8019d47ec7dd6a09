"""Durable timers against a real PostgreSQL, with the clock moved by hand."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from salesops.clock import ManualClock
from salesops.db import DbConnection
from salesops.timers import DueTimer, TimerPoller, cancel_timer, schedule_timer

pytestmark = pytest.mark.integration


@pytest.fixture
async def fired_log(pool: asyncpg.Pool) -> asyncpg.Pool:
    await pool.execute("CREATE TABLE fired (timer_id text, payload jsonb)")
    return pool


async def log_fired(conn: DbConnection, timer: DueTimer) -> None:
    await conn.execute("INSERT INTO fired VALUES ($1, $2)", timer.timer_id, timer.payload)


async def schedule(
    pool: asyncpg.Pool, timer_id: str, due_in: timedelta, clock: ManualClock
) -> None:
    async with pool.acquire() as conn:
        await schedule_timer(
            conn,
            timer_id,
            kind="tech_answer_due",
            due_at=clock.now() + due_in,
            payload={"t": timer_id},
        )


async def test_a_timer_does_not_fire_before_its_due_time_and_fires_once_after(
    fired_log: asyncpg.Pool, clock: ManualClock
) -> None:
    poller = TimerPoller(fired_log, clock, {"tech_answer_due": log_fired})
    await schedule(fired_log, "ticket-1:tech_answer", timedelta(hours=2), clock)

    clock.advance(timedelta(hours=1, minutes=59, seconds=59))
    assert await poller.fire_due() == 0
    clock.advance(timedelta(seconds=1))
    assert await poller.fire_due() == 1
    assert await poller.fire_due() == 0
    assert await fired_log.fetchval("SELECT array_agg(timer_id) FROM fired") == [
        "ticket-1:tech_answer"
    ]


async def test_a_timer_due_while_the_process_was_down_fires_once_after_restart(
    fired_log: asyncpg.Pool, clock: ManualClock
) -> None:
    await schedule(fired_log, "t-1", timedelta(hours=4), clock)
    await schedule(fired_log, "t-2", timedelta(hours=5), clock)
    clock.advance(timedelta(days=1))  # nothing polled meanwhile: every process was down

    restarted = TimerPoller(fired_log, clock, {"tech_answer_due": log_fired})
    assert await restarted.fire_due() == 2
    assert await restarted.fire_due() == 0
    assert await fired_log.fetchval("SELECT count(*) FROM fired") == 2


async def test_two_pollers_never_fire_the_same_timer_twice(
    fired_log: asyncpg.Pool, clock: ManualClock
) -> None:
    for i in range(300):
        await schedule(fired_log, f"t-{i}", timedelta(minutes=i % 7), clock)
    clock.advance(timedelta(hours=1))

    async def slow_log(conn: DbConnection, timer: DueTimer) -> None:
        await log_fired(conn, timer)
        await asyncio.sleep(0)  # let the other poller interleave

    pollers = [
        TimerPoller(fired_log, clock, {"tech_answer_due": slow_log}, batch_size=25)
        for _ in range(2)
    ]

    async def drain(poller: TimerPoller) -> int:
        total = 0
        while fired := await poller.fire_due():
            total += fired
        return total

    counts = await asyncio.gather(*(drain(p) for p in pollers))

    assert sum(counts) == 300
    assert all(counts), "both pollers should have taken a share"
    assert await fired_log.fetchval("SELECT count(DISTINCT timer_id) = count(*) FROM fired")


async def test_a_cancelled_timer_never_fires(fired_log: asyncpg.Pool, clock: ManualClock) -> None:
    await schedule(fired_log, "t-1", timedelta(hours=1), clock)
    async with fired_log.acquire() as conn:
        assert await cancel_timer(conn, "t-1")
    clock.advance(timedelta(hours=2))
    assert await TimerPoller(fired_log, clock, {"tech_answer_due": log_fired}).fire_due() == 0


async def test_a_failing_handler_writes_nothing_and_is_retried_later(
    fired_log: asyncpg.Pool, clock: ManualClock
) -> None:
    calls = {"n": 0}

    async def fails_once(conn: DbConnection, timer: DueTimer) -> None:
        await log_fired(conn, timer)
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("chat platform down")

    poller = TimerPoller(fired_log, clock, {"tech_answer_due": fails_once})
    await schedule(fired_log, "t-1", timedelta(minutes=5), clock)
    clock.advance(timedelta(minutes=5))
    assert await poller.fire_due() == 0
    assert await fired_log.fetchval("SELECT count(*) FROM fired") == 0

    clock.advance(timedelta(seconds=2))  # past the first back-off
    assert await poller.fire_due() == 1
    assert await fired_log.fetchval("SELECT count(*) FROM fired") == 1
