"""A batch of events for the kill test: big enough to kill a consumer in the middle of it.

The metrics service's March history (hand-computed figures, services/metrics/tests) without
the events anyone is notified of, a bulk of follow-ups with a few decision-state changes
spread through them — each one DingTalk message to the rep's sales manager, few enough for
a robot's 20-a-minute limit on the real clock — and a bulk of payments (finance events,
which only the metrics service follows).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from nats.js import JetStreamContext

from contracts.base import IntegrationEvent
from contracts.customers import DecisionStateChanged
from contracts.envelope import Envelope
from contracts.finance import PaymentReceived
from salesops.jetstream import ensure_service_stream
from salesops.testing.events import budget_pending
from services.metrics.tests.march_history import (
    RECORDED_AT,
    ZHANG,
    at,
    ev,
    follow_up,
    march_history,
)
from services.notifier.routing import load_routing_rules
from services.notifier.settings import NotifierSettings

OWNERS = {"c1": ZHANG, "c2": "rep-wang-fang", "c3": "rep-chen-jing"}


@dataclass(frozen=True)
class Batch:
    """The events with fixed ids: the same batch can be published in several namespaces."""

    events: Sequence[IntegrationEvent]
    ids: Sequence[uuid.UUID]

    @property
    def notified(self) -> list[DecisionStateChanged]:
        return [e for e in self.events if isinstance(e, DecisionStateChanged)]

    def count(self, *, services: Sequence[str]) -> int:
        return sum(e.service in services for e in self.events)

    def envelopes(self, namespace: str) -> list[Envelope]:
        return [
            Envelope.for_event(
                event,
                event_id=event_id,
                subject_id=f"s-{i}",
                time=RECORDED_AT,
                actor="system",
                stream_version=1,
                correlation_id="faults",
                namespace=namespace,
            )
            for i, (event, event_id) in enumerate(zip(self.events, self.ids, strict=True))
        ]


def kill_batch(*, follow_ups: int, payments: int, notified: int) -> Batch:
    routed = {rule.event for rule in load_routing_rules(NotifierSettings().routing_file).rules}
    history = [e for e in march_history() if e.event_type() not in routed]
    # The notified changes spread evenly through the bulk: some before the kill, some after.
    spaced = {int((n + 0.5) * follow_ups / notified): n for n in range(notified)}
    bulk: list[IntegrationEvent] = []
    for i in range(follow_ups):
        customer_id = f"c{1 + i % 3}"
        traced = {} if i % 3 else {"competitor_notes": None}  # two in three are traced
        bulk.append(
            follow_up(f"fu-bulk-{i}", customer_id, OWNERS[customer_id], 1 + i % 25, **traced)
        )
        if i in spaced:
            n = spaced[i]
            bulk.append(
                budget_pending(
                    f"cus-notified-{n}", at(1 + n), customer_name=f"通知客户 {n}", owner_id=ZHANG
                )
            )
    # Finance events only the metrics service follows: its batch is the longer one.
    kinds = ("natural", "rebate", "stock_push")
    for i in range(payments):
        customer_id = f"c{1 + i % 3}"
        bulk.append(
            ev(
                PaymentReceived,
                payment_id=f"pay-bulk-{i}",
                customer_id=customer_id,
                amount=Decimal(1000 + i),
                kind=kinds[i % 3],
                received_at=at(1 + i % 25),
            )
        )
    events = [*history, *bulk]
    assert sum(isinstance(e, DecisionStateChanged) for e in events) == notified
    return Batch(events, [uuid.uuid4() for _ in events])


async def publish(js: JetStreamContext, batch: Batch, namespace: str) -> None:
    """Publish as the services' relays do: many in flight, each acknowledged by JetStream."""
    for service in sorted({e.service for e in batch.events}):
        await ensure_service_stream(js, service, namespace)
    envelopes = batch.envelopes(namespace)
    for start in range(0, len(envelopes), 500):
        acks = [
            await js.publish_async(e.type, e.to_json_bytes(), headers=e.nats_headers())
            for e in envelopes[start : start + 500]
        ]
        await asyncio.gather(*acks)
