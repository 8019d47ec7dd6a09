"""Durable timers: deadlines stored in PostgreSQL, fired once by a poller.

Scheduling happens in the same transaction as the command that creates the deadline, so
a deadline exists if and only if its cause does. Pollers claim due timers with
``FOR UPDATE SKIP LOCKED`` and run the handler in the claiming transaction: with several
replicas each timer fires exactly once, and a timer that fell due while every process was
down fires on the first poll after start. The clock is injected, so tests move time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import asyncpg
from opentelemetry import trace

from salesops.clock import Clock
from salesops.db import DbConnection, Migration, Statement
from salesops.opsmetrics import OperationalMetrics
from salesops.policy import Policy
from salesops.telemetry import (
    context_from_traceparent,
    current_traceparent,
    tracer,
    tracing_active,
)

log = logging.getLogger(__name__)

TIMER_MIGRATIONS = (
    Migration(
        "0200_timers",
        """
        CREATE TABLE timers (
            timer_id text PRIMARY KEY,
            kind text NOT NULL,
            due_at timestamptz NOT NULL,
            payload jsonb NOT NULL,
            traceparent text,
            fired_at timestamptz,
            attempts integer NOT NULL DEFAULT 0,
            last_error text
        );
        CREATE INDEX timers_pending_by_due ON timers (due_at) WHERE fired_at IS NULL;
        """,
    ),
)


def just_after(deadline: datetime) -> datetime:
    """When to fire a timer for "overdue strictly after ``deadline``".

    A deadline is met at the deadline itself ("within 24 h" includes 24 h exactly), so the
    check runs at the first instant after it (PostgreSQL keeps microseconds).
    """
    return deadline + timedelta(microseconds=1)


async def ensure_timer(
    conn: DbConnection,
    timer_id: str,
    *,
    kind: str,
    due_at: datetime,
    payload: Mapping[str, Any] | None = None,
) -> bool:
    """Schedule ``timer_id`` unless it already exists (fired or not); returns whether it did."""
    status = await conn.execute(
        "INSERT INTO timers (timer_id, kind, due_at, payload) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (timer_id) DO NOTHING",
        timer_id,
        kind,
        due_at,
        dict(payload or {}),
    )
    return bool(status == "INSERT 0 1")


@dataclass(frozen=True)
class DueTimer:
    """A timer handed to its handler when it falls due."""

    timer_id: str
    kind: str
    due_at: datetime
    payload: dict[str, Any]
    fired_at: datetime
    traceparent: str | None


TimerHandler = Callable[[DbConnection, DueTimer], Awaitable[None]]


@dataclass(frozen=True)
class Batched:
    """A timer handler that can also fire many due timers of its kind in one go.

    ``many`` handles a batch in a few round trips instead of a few per timer (10,000
    SLA deadlines can fall due in the same second). A batch that fails is fired again
    one timer at a time with ``one``, so a timer that keeps failing is isolated and
    retried on its own. With tracing on, timers fire one at a time: each is a span of
    the trace of the command that scheduled it.
    """

    one: TimerHandler
    many: Callable[[DbConnection, Sequence[DueTimer]], Awaitable[None]]

    async def __call__(self, conn: DbConnection, timer: DueTimer) -> None:
        await self.one(conn, timer)


_SCHEDULE = """
    INSERT INTO timers (timer_id, kind, due_at, payload, traceparent)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (timer_id) DO UPDATE
    SET kind = EXCLUDED.kind, due_at = EXCLUDED.due_at, payload = EXCLUDED.payload,
        traceparent = EXCLUDED.traceparent, fired_at = NULL, attempts = 0, last_error = NULL
"""
_CANCEL = "DELETE FROM timers WHERE timer_id = $1 AND fired_at IS NULL"


def schedule_statement(
    timer_id: str, *, kind: str, due_at: datetime, payload: Mapping[str, Any] | None = None
) -> Statement:
    """The statement that schedules (or moves) ``timer_id``, to run in the command's transaction."""
    return _SCHEDULE, (timer_id, kind, due_at, dict(payload or {}), current_traceparent())


def cancel_prefix_statement(prefix: str) -> Statement:
    """The statement that cancels every pending timer whose id starts with ``prefix``."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "DELETE FROM timers WHERE timer_id LIKE $1 AND fired_at IS NULL", (escaped + "%",)


def cancel_statement(timer_id: str) -> Statement:
    """The statement that cancels ``timer_id`` if it has not fired."""
    return _CANCEL, (timer_id,)


async def schedule_timer(
    conn: DbConnection,
    timer_id: str,
    *,
    kind: str,
    due_at: datetime,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Schedule (or move) the timer ``timer_id``; call it inside the command's transaction."""
    sql, args = schedule_statement(timer_id, kind=kind, due_at=due_at, payload=payload)
    await conn.execute(sql, *args)


async def cancel_timer(conn: DbConnection, timer_id: str) -> bool:
    """Cancel a timer that has not fired; returns whether one was pending."""
    sql, args = cancel_statement(timer_id)
    return bool(await conn.execute(sql, *args) != "DELETE 0")


class TimerPoller:
    """Fires due timers of one service schema; any number may run side by side."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        handlers: Mapping[str, TimerHandler],
        *,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        helpers: int = 1,
        max_attempts: int = 10,
        metrics: OperationalMetrics | None = None,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._handlers = dict(handlers)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._helpers = helpers
        self._max_attempts = max_attempts
        self._metrics = metrics

    async def fire_due(self) -> int:
        """Fire one batch of due timers; returns how many fired."""
        now = self._clock.now()
        fired = 0
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """
                SELECT timer_id, kind, due_at, payload, traceparent, attempts FROM timers
                WHERE fired_at IS NULL AND due_at <= $1 AND attempts < $2
                ORDER BY due_at
                LIMIT $3
                FOR UPDATE SKIP LOCKED
                """,
                now,
                self._max_attempts,
                self._batch_size,
            )
            batches: dict[str, list[asyncpg.Record]] = {}
            if not tracing_active():
                for row in rows:
                    if isinstance(self._handlers.get(row["kind"]), Batched):
                        batches.setdefault(row["kind"], []).append(row)
            for kind, batch in batches.items():
                fired += await self._fire_batch(conn, kind, batch, now)
            for row in rows:
                if row["kind"] not in batches and await self._fire(conn, row, now):
                    fired += 1
        return fired

    @staticmethod
    def _due(row: asyncpg.Record, now: datetime) -> DueTimer:
        return DueTimer(
            timer_id=row["timer_id"],
            kind=row["kind"],
            due_at=row["due_at"],
            payload=row["payload"],
            fired_at=now,
            traceparent=row["traceparent"],
        )

    async def _fire_batch(
        self, conn: DbConnection, kind: str, rows: list[asyncpg.Record], now: datetime
    ) -> int:
        handler = self._handlers[kind]
        assert isinstance(handler, Batched)
        timers = [self._due(row, now) for row in rows]
        try:
            async with conn.transaction():  # a savepoint: a failing batch writes nothing
                await handler.many(conn, timers)
        except Exception as exc:
            log.warning(
                "%d %s timers failed together, firing them one by one: %s", len(rows), kind, exc
            )
            fired = 0
            for row in rows:
                fired += await self._fire(conn, row, now)
            return fired
        await conn.execute(
            "UPDATE timers SET fired_at = $2 WHERE timer_id = ANY($1::text[])",
            [timer.timer_id for timer in timers],
            now,
        )
        if self._metrics is not None:
            lateness = self._metrics.timer_lateness.labels(kind)
            for timer in timers:
                lateness.observe(max(0.0, (now - timer.due_at).total_seconds()))
        return len(timers)

    async def _fire(self, conn: DbConnection, row: asyncpg.Record, now: datetime) -> bool:
        timer = self._due(row, now)
        handler = self._handlers.get(timer.kind)
        # A child of the command that scheduled the timer (its traceparent is stored with it),
        # so what the timer does later stays in that command's trace.
        lateness = (now - timer.due_at).total_seconds()
        with tracer.start_as_current_span(
            f"timer {timer.kind}",
            context=context_from_traceparent(timer.traceparent),
            kind=trace.SpanKind.INTERNAL,
        ) as span:
            span.set_attribute("salesops.timer.id", timer.timer_id)
            span.set_attribute("salesops.timer.kind", timer.kind)
            span.set_attribute("salesops.timer.lateness_seconds", lateness)
            try:
                if handler is None:
                    raise LookupError(f"no handler for timer kind {timer.kind!r}")
                async with conn.transaction():  # a savepoint: a failing handler writes nothing
                    await handler(conn, timer)
            except Exception as exc:
                span.record_exception(exc)
                attempts = row["attempts"] + 1
                log.warning("timer %s failed (attempt %d): %s", timer.timer_id, attempts, exc)
                await conn.execute(
                    "UPDATE timers SET attempts = $2, last_error = $3, due_at = $4"
                    " WHERE timer_id = $1",
                    timer.timer_id,
                    attempts,
                    f"{type(exc).__name__}: {exc}"[:2000],
                    now + timedelta(seconds=min(2**attempts, 300)),
                )
                return False
        await conn.execute(
            "UPDATE timers SET fired_at = $2 WHERE timer_id = $1", timer.timer_id, now
        )
        if self._metrics is not None:
            # After a failed attempt due_at is the retry time: lateness counts from that.
            self._metrics.timer_lateness.labels(timer.kind).observe(max(0.0, lateness))
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set.

        While the batches come full (a backlog), ``helpers`` more loops fire batches of
        their own beside this one (SKIP LOCKED keeps them apart): one prepares its batch
        while PostgreSQL writes another's, instead of each waiting for the other in turn.
        """
        backlog = asyncio.Event()
        helpers = [asyncio.create_task(self._help(stop, backlog)) for _ in range(self._helpers)]
        try:
            while not stop.is_set():
                fired = await self._fire_safely()
                if fired >= self._batch_size:
                    backlog.set()
                    continue
                backlog.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), await self._until_next_due())
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _help(self, stop: asyncio.Event, backlog: asyncio.Event) -> None:
        while not stop.is_set():
            await backlog.wait()
            if await self._fire_safely() < self._batch_size:
                backlog.clear()

    async def _fire_safely(self) -> int:
        try:
            return await self.fire_due()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("timer poller paused: %s", exc)
        except Exception:  # keep polling: a poller that stopped would never fire again
            log.exception("timer poller failed; retrying")
        return 0

    async def _until_next_due(self) -> float:
        """Seconds to wait: until the next pending timer is due, at most ``poll_interval``.

        So a deadline fires at its due time rather than up to a poll interval after it
        (a timer scheduled meanwhile, by another process, waits at most that interval).
        """
        try:
            next_due = await self._pool.fetchval(
                "SELECT min(due_at) FROM timers WHERE fired_at IS NULL AND attempts < $1",
                self._max_attempts,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return self._poll_interval
        if next_due is None:
            return self._poll_interval
        wait: float = (next_due - self._clock.now()).total_seconds()
        return max(0.0, min(self._poll_interval, wait))


class DailyTimer:
    """A timer that fires every day at a local business time (the meeting, the 18:00 card).

    Each day's occurrence is its own timer (``<kind>:<instant>``), so the handler of one day
    can schedule the next without touching itself, and replicas that schedule the same day
    at once make one timer.
    """

    def __init__(self, kind: str, local_time: Callable[[], time], policy: Policy) -> None:
        self.kind = kind
        self._local_time = local_time
        self._policy = policy

    async def schedule_next(self, conn: DbConnection, *, after: datetime) -> datetime:
        """Schedule the first occurrence strictly after ``after``; returns when it is."""
        next_at = self._policy.next_business_time(self._local_time(), after)
        await ensure_timer(
            conn, f"{self.kind}:{next_at.isoformat()}", kind=self.kind, due_at=next_at
        )
        return next_at

    async def after_firing(self, conn: DbConnection, timer: DueTimer) -> None:
        """Call at the end of the handler: the next day's occurrence (skipping missed ones)."""
        await self.schedule_next(conn, after=max(timer.due_at, timer.fired_at))

    async def ensure_pending(self, pool: asyncpg.Pool, now: datetime) -> None:
        """At start-up: schedule the next occurrence unless one is pending already."""
        async with pool.acquire() as conn:
            pending = await conn.fetchval(
                "SELECT count(*) FROM timers WHERE kind = $1 AND fired_at IS NULL", self.kind
            )
            if not pending:
                await self.schedule_next(conn, after=now)
