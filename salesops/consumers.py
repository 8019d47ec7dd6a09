"""Durable JetStream consumers with idempotent handling and a dead-letter subject.

Built on faststream's NATS broker (pull subscription, manual acknowledgement). Messages
of one fetched batch are handled one after the other, so events of a stream arrive at a
handler in the order they were published. Each handler runs in a PostgreSQL transaction
that also records the event id as processed: a redelivered message finds its id and
changes nothing. A message that keeps failing is parked on ``sales.dlq.<service>.<consumer>``
after ``max_attempts`` deliveries and acknowledged, so it never blocks the messages behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
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


class EventConsumers:
    """The durable consumers of one service, registered on its faststream broker."""

    def __init__(
        self,
        broker: NatsBroker,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        service: str,
        namespace: str = "",
        max_attempts: int = 5,
        retry_delay: float = 1.0,
    ) -> None:
        self._broker = broker
        self._pool = pool
        self._js = js
        self._service = service
        self._namespace = namespace
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay

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

        ``name`` names the durable consumer; replicas of the service share it, so each
        event is handled by one of them.
        """
        wanted = frozenset(map(snake_case, event_types)) if event_types is not None else None
        consumer = f"{self._service}_{name}"
        dlq = dead_letter_subject(self._service, name, self._namespace)

        async def on_batch(
            body: Any, message: Annotated[NatsBatchMessage, Context("message")]
        ) -> None:
            for raw in message.raw_message:
                await self._handle(raw, consumer, dlq, wanted, handler)

        self._broker.subscriber(
            service_subjects(source_service, self._namespace),
            stream=JStream(stream_name_for(source_service, self._namespace), declare=False),
            durable=consumer,
            pull_sub=PullSub(batch_size=batch_size, timeout=1.0, batch=True),
            config=ConsumerConfig(
                ack_wait=30,
                deliver_policy=DeliverPolicy.ALL,
                # Our own attempt count decides when to dead-letter; the server never drops.
                max_deliver=-1,
            ),
            ack_policy=AckPolicy.MANUAL,
        )(on_batch)

    async def _handle(
        self,
        raw: Msg,
        consumer: str,
        dlq: str,
        wanted: frozenset[str] | None,
        handler: EventHandler,
    ) -> None:
        attempt = raw.metadata.num_delivered or 1
        try:
            envelope = Envelope.model_validate_json(raw.data)
        except ValidationError as exc:
            # Not an event at all: retrying cannot help.
            await self._dead_letter(raw, dlq, consumer, f"not a valid event envelope: {exc}")
            return
        received = ReceivedEvent(envelope, raw.subject, attempt)
        if wanted is not None and received.event_name not in wanted:
            await raw.ack()
            return
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
                if attempt >= self._max_attempts:
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
                    await raw.nak(delay=self._retry_delay * attempt)
                return
        await raw.ack()

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
        await self._js.publish(dlq, raw.data, headers=headers)
        log.error("%s dead-lettered %s: %s", consumer, msg_id, reason)
        await raw.ack()
