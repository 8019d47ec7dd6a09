"""Shared reads: one computation per key and second, however many ask."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from services.metrics.shared_reads import CAPACITY, SharedReads


class Ticking:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """A computation that counts its runs and answers with the run's number."""

    def __init__(self) -> None:
        self.runs = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> int:
        self.runs += 1
        run = self.runs
        if self.gate is not None:
            await self.gate.wait()
        return run


async def test_a_result_is_shared_for_max_age_then_computed_again() -> None:
    clock, compute = Ticking(), Counting()
    reads = SharedReads(1.0, monotonic=clock)
    assert await reads.get("k", compute) == 1
    clock.now += 0.99
    assert await reads.get("k", compute) == 1
    clock.now += 0.01
    assert await reads.get("k", compute) == 2
    assert (reads.computed, reads.shared) == (2, 1)


async def test_keys_are_apart() -> None:
    reads, compute = SharedReads(1.0, monotonic=Ticking()), Counting()
    assert await reads.get(("sums", "trace"), compute) == 1
    assert await reads.get(("sums", "on_time"), compute) == 2
    assert await reads.get(("sums", "trace"), compute) == 1


async def test_requests_at_once_share_one_running_computation() -> None:
    reads, compute = SharedReads(1.0, monotonic=Ticking()), Counting()
    compute.gate = asyncio.Event()
    waiting = [asyncio.create_task(reads.get("k", compute)) for _ in range(20)]
    await asyncio.sleep(0)
    compute.gate.set()
    assert await asyncio.gather(*waiting) == [1] * 20
    assert compute.runs == 1


async def test_a_failure_is_not_kept() -> None:
    reads = SharedReads(1.0, monotonic=Ticking())
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("lost the database")
        return "ok"

    with pytest.raises(ConnectionError):
        await reads.get("k", flaky)
    assert await reads.get("k", flaky) == "ok"
    assert len(reads) == 1


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    reads, compute = SharedReads(1.0, monotonic=Ticking()), Counting()
    compute.gate = asyncio.Event()
    first = asyncio.create_task(reads.get("k", compute))
    second = asyncio.create_task(reads.get("k", compute))
    await asyncio.sleep(0)
    first.cancel()
    compute.gate.set()
    assert await second == 1
    assert first.cancelled()


async def test_zero_turns_sharing_off() -> None:
    reads, compute = SharedReads(0.0), Counting()
    assert [await reads.get("k", compute) for _ in range(3)] == [1, 2, 3]
    assert len(reads) == 0
    at = datetime(2026, 3, 2, 9, 0, 0, 654321, tzinfo=UTC)
    assert reads.instant(at) == at


async def test_the_instant_is_taken_to_the_second_when_sharing() -> None:
    reads = SharedReads(1.0)
    at = datetime(2026, 3, 2, 9, 0, 5, 654321, tzinfo=UTC)
    assert reads.instant(at) == datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)


async def test_entries_are_bounded() -> None:
    clock = Ticking()
    reads = SharedReads(60.0, monotonic=clock)
    for key in range(CAPACITY + 50):
        await reads.get(key, Counting())
    assert len(reads) == CAPACITY
    clock.now += 61
    await reads.get("new", Counting())
    assert len(reads) == 1


def test_a_negative_age_is_refused() -> None:
    with pytest.raises(ValueError, match="max_age"):
        SharedReads(-1)
