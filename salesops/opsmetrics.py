"""Operational metrics on ``/metrics``: what an SRE watches besides HTTP latency.

One :class:`OperationalMetrics` per service process, on the registry ``/metrics`` serves
(the chassis makes both), reached through the runtime: no module globals, so every app a
test builds counts on its own. Every service exports the whole set, so one dashboard and
one set of alert rules fit all of them; a service moves the ones that concern it.

Two kinds of figures, kept off the command's hot path:

* counters move in memory where the thing happens (an append, a publish, a timer firing, a
  notification sent) — no query, no round trip;
* gauges that need a question to PostgreSQL or JetStream (outbox backlog, timers,
  consumer lag, dead letters) are asked by :class:`MetricsSampler` every few seconds in the
  background. Every replica samples the same schema and consumers, so dashboards and
  alerts take ``max`` over a service's instances, never ``sum``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from salesops.clock import Clock

if TYPE_CHECKING:
    from salesops.consumers import EventConsumers

log = logging.getLogger(__name__)

#: A timer still unfired this long after its due time counts as overdue: the poller runs
#: every half second, so anything past a minute means it is stuck or its handler keeps failing.
OVERDUE_GRACE = timedelta(minutes=1)

#: Lateness of timers: "fire late at most by about a second" is the promise; the tail shows
#: downtime catch-up (minutes) and retries of failing handlers.
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)

_SAMPLE = """
SELECT (SELECT count(*) FROM outbox) AS outbox_pending,
       (SELECT e.recorded_at FROM events e
        WHERE e.position = (SELECT min(position) FROM outbox)) AS oldest_pending_at,
       (SELECT count(*) FROM timers WHERE fired_at IS NULL) AS timers_pending,
       (SELECT count(*) FROM timers WHERE fired_at IS NULL AND due_at < $1) AS timers_overdue
"""


class OperationalMetrics:
    """The operational counters, gauges and histograms of one service process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events_appended = Counter(
            "salesops_events_appended",
            "Events appended to the service's event store, by type (counted when the append"
            " statement succeeds; a transaction rolled back afterwards is rare and still counted)",
            ["event_type"],
            registry=r,
        )
        self.outbox_published = Counter(
            "salesops_outbox_published",
            "Events the outbox relay published to JetStream and removed from the outbox",
            registry=r,
        )
        self.outbox_relay_failures = Counter(
            "salesops_outbox_relay_failures",
            "Relay rounds that failed (NATS or PostgreSQL unreachable, the stream missing);"
            " the relay retries a second later",
            registry=r,
        )
        self.outbox_pending = Gauge(
            "salesops_outbox_pending", "Outbox rows waiting to be published (sampled)", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "salesops_outbox_oldest_pending_age_seconds",
            "Age of the oldest event still in the outbox, 0 when empty (sampled)",
            registry=r,
        )
        self.consumer_pending = Gauge(
            "salesops_consumer_pending_messages",
            "Messages not yet delivered to a durable consumer: JetStream num_pending (sampled)",
            ["stream", "consumer"],
            registry=r,
        )
        self.consumer_ack_pending = Gauge(
            "salesops_consumer_ack_pending_messages",
            "Messages delivered but not acknowledged yet: JetStream num_ack_pending (sampled)",
            ["stream", "consumer"],
            registry=r,
        )
        self.dead_letters = Gauge(
            "salesops_dead_letters",
            "Messages this service's consumers parked in the SALES_DLQ stream (sampled)",
            ["consumer"],
            registry=r,
        )
        self.timers_pending = Gauge(
            "salesops_timers_pending", "Timers scheduled and not fired yet (sampled)", registry=r
        )
        self.timers_overdue = Gauge(
            "salesops_timers_overdue",
            "Timers more than a minute past their due time and not fired (sampled)",
            registry=r,
        )
        self.timer_lateness = Histogram(
            "salesops_timer_lateness_seconds",
            "How long after its due time each timer fired",
            ["kind"],
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.ticket_escalations = Counter(
            "salesops_ticket_escalations",
            "TicketTimedOut and TicketEscalated events appended, by stage",
            ["stage", "event_type"],
            registry=r,
        )
        self.notifications = Counter(
            "salesops_notifications",
            "Notification delivery attempts by channel and outcome: sent, failed (retried"
            " later) or dead_lettered (given up, replayable)",
            ["channel", "status"],
            registry=r,
        )
        self.sample_failures = Counter(
            "salesops_metrics_sample_failures",
            "Background samplings of the gauges that failed (the gauges keep their last value)",
            ["source"],
            registry=r,
        )

    def appended(self, event_types: Iterable[str]) -> None:
        for event_type in event_types:
            self.events_appended.labels(event_type).inc()


class MetricsSampler:
    """Asks PostgreSQL and JetStream for the gauges, now (tests) or every few seconds."""

    def __init__(
        self,
        metrics: OperationalMetrics,
        pool: asyncpg.Pool,
        clock: Clock,
        *,
        js: JetStreamContext,
        consumers: EventConsumers,
        dead_letter_stream: str,
    ) -> None:
        self._metrics = metrics
        self._pool = pool
        self._clock = clock
        self._js = js
        self._consumers = consumers
        self._dead_letter_stream = dead_letter_stream

    async def sample(self) -> None:
        """Refresh every sampled gauge; a source that fails keeps its last values."""
        for source, step in (("database", self._sample_database), ("nats", self._sample_nats)):
            try:
                async with asyncio.timeout(5):
                    await step()
            except Exception as exc:  # a metrics hiccup must never take the service down
                self._metrics.sample_failures.labels(source).inc()
                log.warning("could not sample %s metrics: %s", source, exc)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            await self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def _sample_database(self) -> None:
        now = self._clock.now()
        row = await self._pool.fetchrow(_SAMPLE, now - OVERDUE_GRACE)
        assert row is not None
        m = self._metrics
        m.outbox_pending.set(row["outbox_pending"])
        oldest = row["oldest_pending_at"]
        m.outbox_oldest_age.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        m.timers_pending.set(row["timers_pending"])
        m.timers_overdue.set(row["timers_overdue"])

    async def _sample_nats(self) -> None:
        durables = self._consumers.durables()
        if not durables:
            return
        m = self._metrics
        for durable in durables:
            try:
                info = await self._js.consumer_info(durable.stream, durable.consumer)
            except NotFoundError:  # not created yet (the service is starting)
                continue
            m.consumer_pending.labels(durable.stream, durable.consumer).set(info.num_pending or 0)
            m.consumer_ack_pending.labels(durable.stream, durable.consumer).set(
                info.num_ack_pending or 0
            )
        # One request for all of this service's dead-letter subjects; counts per subject.
        prefix = durables[0].dead_letter_subject.rsplit(".", 1)[0]
        try:
            info = await self._js.stream_info(
                self._dead_letter_stream, subjects_filter=f"{prefix}.>"
            )
            parked = info.state.subjects or {}
        except NotFoundError:
            parked = {}
        for durable in durables:
            m.dead_letters.labels(durable.consumer).set(parked.get(durable.dead_letter_subject, 0))
