"""Watching what a service publishes on NATS, for integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID, uuid4

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.base import IntegrationEvent
from contracts.customers import DecisionState, DecisionStateChanged
from contracts.envelope import Envelope
from contracts.subjects import service_subjects
from salesops.consumers import ReceivedEvent
from salesops.db import DbConnection
from salesops.testing.apps import RunningService
from salesops.testing.waiting import eventually

E = TypeVar("E", bound=IntegrationEvent)


class EventTap:
    """Every envelope published by one service since the tap opened, in arrival order."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self._arrived = asyncio.Condition()

    async def _receive(self, msg: Msg) -> None:
        async with self._arrived:
            self.envelopes.append(Envelope.model_validate_json(msg.data))
            self._arrived.notify_all()

    def of(self, event: type[IntegrationEvent]) -> list[IntegrationEvent]:
        name = event.event_name()
        return [e.event() for e in self.envelopes if e.type.endswith(f".{name}")]

    async def next_of(self, event: type[E], *, count: int = 1, seconds: float = 10) -> list[E]:
        """Wait until ``count`` events of this type have arrived; return all of them."""
        async with asyncio.timeout(seconds), self._arrived:
            await self._arrived.wait_for(lambda: len(self.of(event)) >= count)
        return [e for e in self.of(event) if isinstance(e, event)]


@asynccontextmanager
async def tap_events(js: JetStreamContext, service: str, namespace: str) -> AsyncIterator[EventTap]:
    """Subscribe (ephemeral) to everything ``service`` has published and will publish."""
    tap = EventTap()
    subscription = await js.subscribe(service_subjects(service, namespace), cb=tap._receive)
    try:
        yield tap
    finally:
        await subscription.unsubscribe()


async def publish_event(
    js: JetStreamContext,
    namespace: str,
    event: IntegrationEvent,
    *,
    subject_id: str,
    actor: str = "system",
    msg_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Publish an event the way its owning service's relay would (for tests of consumers).

    ``time`` is when the event was recorded (the envelope's ``time``); default now.
    """
    envelope = Envelope.for_event(
        event,
        event_id=uuid4(),
        subject_id=subject_id,
        time=time or datetime.now(UTC),
        actor=actor,
        stream_version=1,
        correlation_id="test",
        namespace=namespace,
    )
    await publish_envelope(js, envelope, msg_id=msg_id)
    return envelope


async def publish_envelope(
    js: JetStreamContext, envelope: Envelope, *, msg_id: str | None = None
) -> None:
    """Publish an envelope; another ``msg_id`` makes JetStream store a second copy."""
    headers = envelope.nats_headers()
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    await js.publish(envelope.type, envelope.to_json_bytes(), headers=headers)


async def publish_customer_registered(
    js: JetStreamContext, namespace: str, *, customer_id: str, owner_id: str, name: str
) -> None:
    """Publish what the customers service publishes when a customer is registered."""
    from decimal import Decimal

    from contracts.customers import CustomerRegistered, CustomerTier

    at = datetime(2026, 1, 1, tzinfo=UTC)
    event = CustomerRegistered(
        customer_id=customer_id,
        external_key=None,
        name=name,
        tier=CustomerTier.A,
        owner_id=owner_id,
        org_unit_id="group-east-1",
        estimated_contribution=Decimal(1),
        registered_by=owner_id,
        registered_at=at,
    )
    await publish_event(js, namespace, event, subject_id=customer_id, actor=owner_id)


def decision_state_changed(namespace: str, customer_id: str | None = None) -> Envelope:
    """The contract's example DecisionStateChanged (of ``customer_id``, by default the
    example's own customer) in an envelope of its own: a new event id each call."""
    event = DecisionStateChanged.examples()[0]
    if customer_id is not None:
        event = event.model_copy(update={"customer_id": customer_id})
    return Envelope.for_event(
        event,
        event_id=uuid4(),
        subject_id=event.customer_id,
        time=event.changed_at,
        actor="rep-zhang-wei",
        stream_version=1,
        correlation_id="test",
        namespace=namespace,
    )


async def record_seen(conn: DbConnection, received: ReceivedEvent) -> None:
    """A consumer's handler for DecisionStateChanged: each event a row in the test's table
    ``seen (event_id uuid, customer_id text)``, in the handler's transaction."""
    event = received.envelope.event_as(DecisionStateChanged)
    await conn.execute(
        "INSERT INTO seen VALUES ($1, $2)", UUID(received.envelope.id), event.customer_id
    )


async def until_customers_known(service: RunningService, count: int) -> None:
    """Until ``service``'s copy of the customers (``known_customers``, filled from the
    customers' events) holds ``count`` of them."""

    async def known() -> bool:
        known_now = await service.runtime.pool.fetchval("SELECT count(*) FROM known_customers")
        return bool(known_now == count)

    await eventually(known)


def budget_pending(
    customer_id: str,
    at: datetime,
    *,
    customer_name: str = "宁波精密模具",
    owner_id: str = "rep-zhang-wei",
) -> DecisionStateChanged:
    """A rep's new customer put in budget_pending at ``at``: the notifier tells the sales
    manager of the rep's group (group-east-1 in deploy/org.yaml)."""
    return DecisionStateChanged(
        customer_id=customer_id,
        customer_name=customer_name,
        owner_id=owner_id,
        org_unit_id="group-east-1",
        from_state=None,
        to_state=DecisionState.BUDGET_PENDING,
        changed_by=owner_id,
        changed_at=at,
    )
