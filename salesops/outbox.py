"""The outbox relay: moves stored events to NATS JetStream, each exactly once.

The relay reads *rows* of the outbox, not "positions after the last one published", so a
transaction that commits late (a lower position becoming visible after a higher one) is
simply picked up by the next batch; nothing is skipped. A row is deleted only after
JetStream acknowledged its message. If the relay dies between the two, the message is
published again with the same ``Nats-Msg-Id`` (the event id) and JetStream drops it as a
duplicate. One relay per service is active at a time (a PostgreSQL advisory lock), so
several replicas never race each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from nats.js import JetStreamContext
from opentelemetry import trace

from contracts.envelope import CLOUDEVENTS_CONTENT_TYPE, envelope_json
from contracts.registry import event_class
from salesops.db import DbConnection
from salesops.opsmetrics import OperationalMetrics
from salesops.telemetry import (
    context_from_traceparent,
    inject_trace_headers,
    tracer,
    tracing_active,
)

log = logging.getLogger(__name__)

#: After a wake-up, how long the relay lets more appends gather before it reads the outbox.
WAKE_DEBOUNCE = 0.005

#: The outbox's first rows, then their events by primary key. Not a join: with the outbox's
#: statistics showing it full (it is filled and emptied all day), the planner merge-joins it
#: with the whole events index, a scan from the first event ever stored on every poll.
_PENDING = """
SELECT e.position, e.event_id, e.stream_id, e.stream_version, e.event_type,
       e.schema_version, e.data, e.metadata, e.recorded_at
FROM events e
WHERE e.position = ANY (ARRAY(SELECT position FROM outbox ORDER BY position LIMIT $1))
ORDER BY e.position
"""


class OutboxRelay:
    """Publishes one service's pending outbox rows to its JetStream stream."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        service: str,
        schema: str,
        namespace: str = "",
        batch_size: int = 1000,
        idle_interval: float = 0.05,
        publish_timeout: float = 10.0,
        after_publish: Callable[[list[int]], Any] | None = None,
        metrics: OperationalMetrics | None = None,
    ) -> None:
        self._pool = pool
        self._js = js
        self._service = service
        self._namespace = namespace
        self._lock_key = f"outbox-relay:{schema}"
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._publish_timeout = publish_timeout
        # Test hook: lets a fault test stop the relay between publishing and marking.
        self._after_publish = after_publish
        self._metrics = metrics
        self.published_total = 0
        # Set by wake(): appends of this process (another replica's wait for the idle tick).
        self._appended = asyncio.Event()

    async def publish_pending(self, conn: DbConnection | None = None) -> int:
        """Publish one batch of pending events and mark them; returns how many."""
        if conn is None:
            async with self._pool.acquire() as own:
                return await self.publish_pending(own)
        rows = await conn.fetch(_PENDING, self._batch_size)
        if not rows:
            return 0
        traced = tracing_active()  # asked once per batch: spans cost even when unrecorded
        futures = [await self._publish(row, traced) for row in rows]
        try:
            async with asyncio.timeout(self._publish_timeout):
                for future in futures:
                    await future
        except BaseException:
            # Unanswered publishes hold nats-py's pending slots until cancelled.
            for future in futures:
                future.cancel()
            raise
        positions = [row["position"] for row in rows]
        if self._after_publish is not None:
            self._after_publish(positions)
        await conn.execute("DELETE FROM outbox WHERE position = ANY($1::bigint[])", positions)
        self.published_total += len(rows)
        if self._metrics is not None:
            # Progress an alert can watch: pending rows while this stands still = relay stuck.
            self._metrics.outbox_published.inc(len(rows))
        return len(rows)

    async def _publish(self, row: asyncpg.Record, traced: bool) -> asyncio.Future[Any]:
        contract = event_class(row["event_type"])
        metadata = row["metadata"]
        event_id = str(row["event_id"])
        subject = contract.subject(self._namespace)
        traceparent = metadata.get("traceparent")
        body = envelope_json(
            id=event_id,
            source=contract.source(),
            type=subject,
            subject=row["stream_id"],
            time=row["recorded_at"],
            dataschema=contract.dataschema(),
            schemaversion=row["schema_version"],
            correlationid=metadata["correlation_id"],
            causationid=metadata.get("causation_id"),
            actor=metadata["actor"],
            streamversion=row["stream_version"],
            data=row["data"],
            traceparent=traceparent,
        )
        headers = {
            "Nats-Msg-Id": event_id,
            "content-type": CLOUDEVENTS_CONTENT_TYPE,
            "ce-type": subject,
        }
        if not traced:
            if traceparent:
                headers["traceparent"] = traceparent
            return await self._js.publish_async(subject, body, headers=headers)
        with tracer.start_as_current_span(
            f"publish {subject}",
            context=context_from_traceparent(traceparent),
            kind=trace.SpanKind.PRODUCER,
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.destination.name", subject)
            span.set_attribute("messaging.message.id", event_id)
            span.set_attribute("salesops.event.type", row["event_type"])
            span.set_attribute("salesops.stream.id", row["stream_id"])
            # The consumers continue from this publish span, itself a child of the command.
            inject_trace_headers(headers)
            return await self._js.publish_async(subject, body, headers=headers)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, taking over whenever no other replica relays."""
        while not stop.is_set():
            try:
                async with self._pool.acquire() as conn:
                    if not await conn.fetchval(
                        "SELECT pg_try_advisory_lock(hashtext($1))", self._lock_key
                    ):
                        await _wait(stop, 1.0)
                        continue
                    try:
                        await self._relay_while_leader(conn, stop)
                    finally:
                        if not conn.is_closed():
                            await conn.execute(
                                "SELECT pg_advisory_unlock(hashtext($1))", self._lock_key
                            )
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                self._failed()
                log.warning("outbox relay paused: %s", exc)
                await _wait(stop, 1.0)
            except Exception:  # keep relaying; a dead relay loses nothing but delays everything
                self._failed()
                log.exception("outbox relay failed; retrying")
                await _wait(stop, 1.0)

    def _failed(self) -> None:
        if self._metrics is not None:
            self._metrics.outbox_relay_failures.inc()

    def wake(self) -> None:
        """Events were just appended in this process: look for them now, not at the next tick."""
        self._appended.set()

    async def _relay_while_leader(self, conn: DbConnection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            published = await self.publish_pending(conn)
            if published < self._batch_size:
                self._appended.clear()
                await _wait_any(stop, self._appended, self._idle_interval)
                if self._appended.is_set():
                    # Woken by an append: let the commands arriving with it gather, so a
                    # busy service publishes a batch every few ms, not a poll per command.
                    await _wait(stop, WAKE_DEBOUNCE)


async def _wait_any(stop: asyncio.Event, other: asyncio.Event, seconds: float) -> None:
    """Until either event is set, or ``seconds`` passed."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(other.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
