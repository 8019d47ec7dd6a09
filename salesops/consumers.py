"""Durable JetStream consumers with idempotent handling and a dead-letter subject.

Each consumer is a durable pull consumer with explicit acks; replicas of a service share
it, so each event is handled by one of them. Messages of a fetched batch are handled one
after the other, so a handler sees the events of a stream in the order they were published.
Each handler runs in a PostgreSQL transaction that also records the event id as processed:
a redelivered message finds its id and changes nothing. A message that keeps failing is
parked on ``sales.dlq.<service>.<consumer>`` after ``max_attempts`` deliveries and
acknowledged, so it never blocks the messages behind it.

A *batch* subscription hands every new event of one fetch to its handler in one
transaction (a projection that merges many events into few writes); if that transaction
fails, the batch is handled again one event at a time, so a poison message is isolated,
retried and dead-lettered on its own while the others go through.

Why nats-py and not faststream's NATS broker here (faststream 0.6/0.7): its pull
subscriber either hands a fetched batch to the handler concurrently (one task per
message, so two events of one customer can be applied out of order), or, in batch mode,
waits until the batch is full or its timeout passes (a lone event waits the whole
timeout) and lets a fetch time-out escape into its supervisor's growing back-off. The
loop below is the few lines that avoid all three: fetch, handle in order, ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from pydantic import ValidationError

from contracts.base import IntegrationEvent
from contracts.envelope import Envelope
from contracts.subjects import (
    dead_letter_subject,
    parse_subject,
    service_subjects,
    snake_case,
    stream_name_for,
)
from salesops.db import DbConnection, Migration
from salesops.jetstream import ensure_service_stream
from salesops.telemetry import context_from_traceparent, inject_trace_headers, tracer

log = logging.getLogger(__name__)

CONSUMER_MIGRATIONS = (
    Migration(
        "0100_processed_events",
        """
        CREATE TABLE processed_events (
            consumer text NOT NULL,
            event_id uuid NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        );
        """,
    ),
)


@dataclass(frozen=True)
class ReceivedEvent:
    """An event as a consumer sees it: the envelope, where it came from, which delivery."""

    envelope: Envelope
    nats_subject: str
    delivery_attempt: int

    @property
    def event_name(self) -> str:
        """The event's subject token, e.g. ``decision_state_changed``."""
        return parse_subject(self.envelope.type).event

    def event(self) -> IntegrationEvent:
        """The payload as its contract model (unknown fields ignored)."""
        return self.envelope.event()


EventHandler = Callable[[DbConnection, ReceivedEvent], Awaitable[None]]
#: Handles several events, in delivery order, in one transaction.
BatchHandler = Callable[[DbConnection, Sequence[ReceivedEvent]], Awaitable[None]]


@dataclass(frozen=True)
class _Subscription:
    source_service: str
    consumer: str
    stream: str
    subjects: str
    dead_letter_subject: str
    wanted: frozenset[str] | None
    handler: EventHandler
    batch_size: int
    batch_handler: BatchHandler | None = None


@dataclass(frozen=True)
class Durable:
    """Where one subscription's durable consumer lives (for its lag and dead letters)."""

    stream: str
    consumer: str
    dead_letter_subject: str


class EventConsumers:
    """The durable consumers of one service."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        service: str,
        namespace: str = "",
        stream_replicas: int = 1,
        max_attempts: int = 5,
        retry_delay: float = 1.0,
        fetch_timeout: float = 5.0,
        ack_wait: float = 30.0,
    ) -> None:
        self._pool = pool
        self._js = js
        self._service = service
        self._namespace = namespace
        # A source stream created here must match what its publisher would create; otherwise
        # whichever starts second rewrites the other's replica count (update_stream).
        self._stream_replicas = stream_replicas
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._fetch_timeout = fetch_timeout
        # Set when the durable is created: what a killed replica held comes back after it.
        self._ack_wait = ack_wait
        self._subscriptions: list[_Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._pulls: list[JetStreamContext.PullSubscription] = []
        self._in_hand: set[asyncio.Future[None]] = set()
        self._stop = asyncio.Event()

    def subscribe(
        self,
        name: str,
        *,
        source_service: str,
        handler: EventHandler,
        event_types: Iterable[str] | None = None,
        batch_size: int = 100,
    ) -> None:
        """Feed every event of ``source_service`` (or only ``event_types``) to ``handler``.

        ``name`` names the durable consumer; replicas of the service share it.
        """
        self._subscriptions.append(
            _Subscription(
                source_service=source_service,
                consumer=f"{self._service}_{name}",
                stream=stream_name_for(source_service, self._namespace),
                subjects=service_subjects(source_service, self._namespace),
                dead_letter_subject=dead_letter_subject(self._service, name, self._namespace),
                wanted=frozenset(map(snake_case, event_types)) if event_types is not None else None,
                handler=handler,
                batch_size=batch_size,
            )
        )

    def subscribe_batch(
        self,
        name: str,
        *,
        source_service: str,
        handler: BatchHandler,
        event_types: Iterable[str] | None = None,
        batch_size: int = 500,
    ) -> None:
        """Like :meth:`subscribe`, but the new events of each fetch go to ``handler`` at once."""

        async def one_at_a_time(conn: DbConnection, received: ReceivedEvent) -> None:
            await handler(conn, [received])

        self.subscribe(
            name,
            source_service=source_service,
            handler=one_at_a_time,
            event_types=event_types,
            batch_size=batch_size,
        )
        self._subscriptions[-1] = dataclasses.replace(
            self._subscriptions[-1], batch_handler=handler
        )

    def durables(self) -> list[Durable]:
        """The durable consumers subscribed so far, for the metrics sampler."""
        return [Durable(s.stream, s.consumer, s.dead_letter_subject) for s in self._subscriptions]

    async def start(self) -> None:
        """Create (or join) the durable consumers and start fetching."""
        self._stop.clear()
        for subscription in self._subscriptions:
            # The publisher may not have started yet: its stream is made the same way by both.
            await ensure_service_stream(
                self._js,
                subscription.source_service,
                self._namespace,
                replicas=self._stream_replicas,
            )
            pull = await self._js.pull_subscribe(
                subscription.subjects,
                durable=subscription.consumer,
                stream=subscription.stream,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=self._ack_wait,
                    deliver_policy=DeliverPolicy.ALL,
                    # Our own attempt count decides when to dead-letter; the server never drops.
                    max_deliver=-1,
                ),
            )
            self._pulls.append(pull)
            self._tasks.append(asyncio.create_task(self._consume(pull, subscription)))

    async def stop(self) -> None:
        """Finish the message in hand and stop; unacked messages are redelivered later."""
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*self._in_hand, return_exceptions=True)
        self._tasks.clear()
        # Unsubscribed here, the connection's drain does not wait on them: nats-py leaves
        # the status messages a cancelled fetch took off a pull subscription's queue
        # unfinished, and drain would wait for them until its timeout.
        for pull in self._pulls:
            with contextlib.suppress(Exception):
                await pull.unsubscribe()
        self._pulls.clear()

    async def _consume(self, pull: JetStreamContext.PullSubscription, sub: _Subscription) -> None:
        while not self._stop.is_set():
            try:
                messages = await pull.fetch(sub.batch_size, timeout=self._fetch_timeout)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:
                # No server, a closed connection, a 503 while a cluster elects the consumer's
                # new leader: a loop that ended here would never consume again.
                log.warning("%s cannot fetch: %s", sub.consumer, exc)
                await asyncio.sleep(1)
                continue
            try:
                if sub.batch_handler is not None:
                    await self._shielded(self._handle_batch(messages, sub))
                    continue
                for message in messages:
                    await self._shielded(self._handle(message, sub))
            except Exception:
                # An ack or a dead letter NATS did not take: what is not acknowledged comes
                # back after the ack wait, and the loop goes on.
                log.exception("%s could not settle a fetched batch", sub.consumer)
                await asyncio.sleep(1)

    async def _shielded(self, work: Awaitable[None]) -> None:
        # Shielded: a stop request lets the work in hand finish and its messages be acked.
        in_hand = asyncio.ensure_future(work)
        self._in_hand.add(in_hand)
        in_hand.add_done_callback(self._in_hand.discard)
        await asyncio.shield(in_hand)

    async def _received(self, raw: Msg, sub: _Subscription) -> ReceivedEvent | None:
        """The message as an event this subscription wants; otherwise settled here."""
        try:
            envelope = Envelope.model_validate_json(raw.data)
        except ValidationError as exc:
            # Not an event at all: retrying cannot help.
            await self._dead_letter(
                raw, sub.dead_letter_subject, sub.consumer, f"not a valid event envelope: {exc}"
            )
            return None
        received = ReceivedEvent(envelope, raw.subject, raw.metadata.num_delivered or 1)
        if sub.wanted is not None and received.event_name not in sub.wanted:
            await raw.ack()
            return None
        return received

    async def _handle(self, raw: Msg, sub: _Subscription) -> None:
        received = await self._received(raw, sub)
        if received is not None:
            await self._process(raw, received, sub)

    async def _handle_batch(self, messages: Sequence[Msg], sub: _Subscription) -> None:
        assert sub.batch_handler is not None
        batch: list[tuple[Msg, ReceivedEvent]] = []
        for raw in messages:
            received = await self._received(raw, sub)
            if received is not None:
                batch.append((raw, received))
        if not batch:
            return
        links = [
            trace.Link(span_context)
            for raw, _ in batch
            if (span_context := _span_context(raw)) is not None
        ]
        with tracer.start_as_current_span(
            f"consume {len(batch)} events of {sub.stream}",
            kind=trace.SpanKind.CONSUMER,
            links=links,
        ) as span:
            span.set_attribute("messaging.consumer.group.name", sub.consumer)
            span.set_attribute("messaging.batch.message_count", len(batch))
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    fresh = {
                        str(row["event_id"])
                        for row in await conn.fetch(
                            "INSERT INTO processed_events (consumer, event_id)"
                            " SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING"
                            " RETURNING event_id",
                            sub.consumer,
                            [received.envelope.id for _, received in batch],
                        )
                    }
                    new: list[ReceivedEvent] = []
                    for _, received in batch:
                        # The same event stored twice in the stream arrives twice: once counts.
                        if received.envelope.id in fresh:
                            fresh.discard(received.envelope.id)
                            new.append(received)
                    if new:
                        await sub.batch_handler(conn, new)
            except Exception as exc:
                span.record_exception(exc)
                log.warning(
                    "%s failed on a batch of %d events, handling them one by one: %s",
                    sub.consumer,
                    len(batch),
                    exc,
                )
                for raw, received in batch:
                    await self._process(raw, received, sub)
                return
        for raw, _ in batch:
            await raw.ack()

    async def _process(self, raw: Msg, received: ReceivedEvent, sub: _Subscription) -> None:
        consumer, dlq, handler = sub.consumer, sub.dead_letter_subject, sub.handler
        envelope, attempt = received.envelope, received.delivery_attempt
        parent = context_from_traceparent((raw.headers or {}).get("traceparent"))
        with tracer.start_as_current_span(
            f"consume {envelope.type}", context=parent, kind=trace.SpanKind.CONSUMER
        ) as span:
            span.set_attribute("messaging.consumer.group.name", consumer)
            span.set_attribute("messaging.message.id", envelope.id)
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    first_time = await conn.fetchval(
                        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)"
                        " ON CONFLICT DO NOTHING RETURNING true",
                        consumer,
                        envelope.id,
                    )
                    if first_time:
                        await handler(conn, received)
            except Exception as exc:
                span.record_exception(exc)
                # A database that is away is no fault of the message: however long the
                # outage, the event waits for it instead of being dead-lettered.
                if attempt >= self._max_attempts and not await self._database_away(exc):
                    await self._dead_letter(raw, dlq, consumer, f"{type(exc).__name__}: {exc}")
                else:
                    log.warning(
                        "%s failed on event %s (attempt %d of %d): %s",
                        consumer,
                        envelope.id,
                        attempt,
                        self._max_attempts,
                        exc,
                    )
                    # Capped: redeliveries during a long outage keep coming back soon after.
                    await raw.nak(delay=self._retry_delay * min(attempt, self._max_attempts))
                return
        await raw.ack()

    async def _database_away(self, exc: Exception) -> bool:
        """Whether the handler failed for want of its database (lost, refused, restarting)."""
        # Lost or refused connections; a server shutting down or starting up.
        if isinstance(exc, OSError | asyncpg.PostgresConnectionError):
            return True
        if isinstance(exc, asyncpg.OperatorInterventionError):
            return True
        try:  # whatever the error said: a database that does not answer now is away
            async with asyncio.timeout(2):
                await self._pool.fetchval("SELECT 1")
        except Exception:
            return True
        return False

    async def _dead_letter(self, raw: Msg, dlq: str, consumer: str, reason: str) -> None:
        headers = dict(raw.headers or {})
        msg_id = headers.get("Nats-Msg-Id", f"{raw.metadata.stream}:{raw.metadata.sequence.stream}")
        headers.update(
            {
                "Nats-Msg-Id": f"{msg_id}:{consumer}",
                "Salesops-Original-Subject": raw.subject,
                "Salesops-Consumer": consumer,
                "Salesops-Error": reason[:1000],
                "Salesops-Delivery-Attempts": str(raw.metadata.num_delivered),
            }
        )
        inject_trace_headers(headers)
        data = _fitting(raw.data, headers, self._js._nc.max_payload)
        await self._js.publish(dlq, data, headers=headers)
        log.error("%s dead-lettered %s: %s", consumer, msg_id, reason)
        await raw.ack()


def _header_bytes(headers: dict[str, str]) -> int:
    # As NATS writes them: "NATS/1.0\r\n", "Key: value\r\n" each, then "\r\n".
    return 12 + sum(len(k.encode()) + len(str(v).encode()) + 4 for k, v in headers.items())


def _fitting(data: bytes, headers: dict[str, str], max_payload: int) -> bytes:
    """The payload a dead letter can carry with ``headers``, noting in them what was cut.

    A message near the server's max_payload plus the headers added above is over it;
    nats-py checks the payload alone, and the server answers an oversize message by
    closing the connection, which would cut the whole service off NATS. The original
    stays whole in its own stream.
    """
    if len(data) + _header_bytes(headers) <= max_payload:
        return data
    # The original's own headers go if they alone leave little room (ours are bounded).
    if _header_bytes(headers) > max_payload // 2:
        for key in [k for k in headers if not k.startswith(("Salesops-", "Nats-Msg-Id"))]:
            del headers[key]
        headers["Salesops-Headers-Dropped"] = "the original headers did not fit"
        if len(data) + _header_bytes(headers) <= max_payload:
            return data
    keep = max(0, max_payload - _header_bytes(headers) - 128)  # 128: the note below
    headers["Salesops-Payload-Truncated"] = f"kept the first {keep} of {len(data)} bytes"
    return data[:keep]


def _span_context(raw: Msg) -> trace.SpanContext | None:
    """The publisher's span a message continues (the relay puts it in the headers)."""
    parent = context_from_traceparent((raw.headers or {}).get("traceparent"))
    span_context = trace.get_current_span(parent).get_span_context()
    return span_context if span_context.is_valid else None
