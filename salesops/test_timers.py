"""Durable timers against a real PostgreSQL, with the clock moved by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import asyncpg
import pytest

from salesops import timers
from salesops.clock import ManualClock, SystemClock
from salesops.db import DbConnection
from salesops.timers import Batched, DueTimer, TimerPoller, cancel_timer, schedule_timer

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


@pytest.fixture
def untraced(monkeypatch: pytest.MonkeyPatch) -> None:
    """No tracing here, whichever test installed a provider in this process before."""
    monkeypatch.setattr(timers, "tracing_active", lambda: False)


@pytest.mark.usefixtures("untraced")
async def test_a_batched_handler_fires_every_due_timer_of_its_kind_in_one_call(
    fired_log: asyncpg.Pool, clock: ManualClock
) -> None:
    batches: list[list[str]] = []

    async def log_many(conn: DbConnection, timers: Sequence[DueTimer]) -> None:
        batches.append([timer.timer_id for timer in timers])
        for timer in timers:
            await log_fired(conn, timer)

    poller = TimerPoller(
        fired_log, clock, {"tech_answer_due": Batched(one=log_fired, many=log_many)}
    )
    for n in range(5):
        await schedule(fired_log, f"t-{n}", timedelta(minutes=5), clock)
    clock.advance(timedelta(minutes=5, seconds=1))
    assert await poller.fire_due() == 5
    assert [sorted(batch) for batch in batches] == [[f"t-{n}" for n in range(5)]]
    assert await poller.fire_due() == 0
    assert (
        await fired_log.fetchval("SELECT count(*) FROM timers WHERE fired_at = $1", clock.now())
        == 5
    )


@pytest.mark.usefixtures("untraced")
async def test_a_failing_batch_is_fired_again_one_timer_at_a_time(
    fired_log: asyncpg.Pool, clock: ManualClock
) -> None:
    async def fails_together(conn: DbConnection, timers: Sequence[DueTimer]) -> None:
        for timer in timers:
            await log_fired(conn, timer)
        raise RuntimeError("one of them is poison")

    async def one(conn: DbConnection, timer: DueTimer) -> None:
        if timer.timer_id == "t-poison":
            raise RuntimeError("poison")
        await log_fired(conn, timer)

    poller = TimerPoller(
        fired_log, clock, {"tech_answer_due": Batched(one=one, many=fails_together)}
    )
    for timer_id in ("t-1", "t-poison", "t-2"):
        await schedule(fired_log, timer_id, timedelta(minutes=5), clock)
    clock.advance(timedelta(minutes=5))
    assert await poller.fire_due() == 2
    # What the failed batch wrote is gone; each good timer wrote once, the poison one not.
    assert sorted(await fired_log.fetchval("SELECT array_agg(timer_id) FROM fired")) == [
        "t-1",
        "t-2",
    ]
    row = await fired_log.fetchrow(
        "SELECT fired_at, attempts, last_error FROM timers WHERE timer_id = 't-poison'"
    )
    assert row is not None
    assert (row["fired_at"], row["attempts"]) == (None, 1)
    assert "poison" in row["last_error"]


async def test_the_poller_wakes_when_the_next_timer_is_due_not_a_poll_interval_later(
    fired_log: asyncpg.Pool,
) -> None:
    clock = SystemClock()
    fired = asyncio.Event()

    async def log_and_tell(conn: DbConnection, timer: DueTimer) -> None:
        await log_fired(conn, timer)
        fired.set()

    poller = TimerPoller(fired_log, clock, {"tech_answer_due": log_and_tell}, poll_interval=5.0)
    async with fired_log.acquire() as conn:
        await schedule_timer(
            conn, "soon", kind="tech_answer_due", due_at=clock.now() + timedelta(seconds=0.3)
        )
    stop = asyncio.Event()
    running = asyncio.create_task(poller.run(stop))
    try:
        async with asyncio.timeout(3):  # far less than the 5 s poll interval
            await fired.wait()
    finally:
        stop.set()
        await running
    row = await fired_log.fetchrow("SELECT fired_at, due_at FROM timers WHERE timer_id = 'soon'")
    assert row is not None
    assert timedelta(0) <= row["fired_at"] - row["due_at"] < timedelta(seconds=1)
