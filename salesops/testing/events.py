"""Watching what a service publishes on NATS, for integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.base import IntegrationEvent
from contracts.envelope import Envelope
from contracts.subjects import service_subjects

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
