"""/metrics follows what really happens: appends, a stuck relay, timers firing late, escalations,
consumer lag, dead letters and notification deliveries, on real PostgreSQL and NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from contracts.subjects import stream_name_for, subject_for
from salesops.clock import ManualClock
from salesops.jetstream import ensure_service_stream
from salesops.testing.apps import RunningService, ServiceStarter
from salesops.testing.commands import submit_ticket
from salesops.testing.events import (
    budget_pending,
    publish_customer_registered,
    publish_event,
    until_customers_known,
)
from salesops.testing.waiting import eventually
from services.notifier.platform_fakes import DingTalkFake, dingtalk_server
from services.notifier.service import NOTIFIER

pytestmark = pytest.mark.integration

REP = "rep-zhang-wei"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(service: RunningService, *, sample: bool = True) -> Samples:
    """GET /metrics (after sampling the gauges, as the background sampler would)."""
    if sample:
        assert service.runtime.sampler is not None
        await service.runtime.sampler.sample()
    response = await service.client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; a labelled counter never incremented has no sample: 0."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def register_customer(service: RunningService, name: str) -> None:
    response = await service.client.post(
        "/customers",
        json={"name": name, "tier": "B", "estimated_contribution": "10"},
        headers=service.auth(REP),
    )
    assert response.status_code == 201, response.text


async def test_appends_count_by_type_and_a_stuck_relay_shows_as_outbox_lag(
    customers: RunningService, js: JetStreamContext, namespace: str, clock: ManualClock
) -> None:
    appended = ("salesops_events_appended_total", "CustomerRegistered")
    start = await scrape(customers)
    assert value(start, appended[0], event_type=appended[1]) == 0
    assert value(start, "salesops_outbox_pending") == 0

    await register_customer(customers, "无锡华光")

    async def published(count: int) -> bool:
        now = await scrape(customers, sample=False)
        return value(now, "salesops_outbox_published_total") == count

    await eventually(lambda: published(1))
    assert value(await scrape(customers), appended[0], event_type=appended[1]) == 1

    # The relay cannot publish any more (its stream is gone): rows pile up and age.
    await js.delete_stream(stream_name_for("customers", namespace))
    await register_customer(customers, "常州精工")

    async def relay_failed() -> bool:
        now = await scrape(customers, sample=False)
        return value(now, "salesops_outbox_relay_failures_total") >= 1

    await eventually(relay_failed)  # it tried: the stream is missing
    await register_customer(customers, "苏州恒力")
    stuck = await scrape(customers)
    assert value(stuck, appended[0], event_type=appended[1]) == 3
    assert value(stuck, "salesops_outbox_pending") == 2
    clock.advance(timedelta(minutes=7))
    later = await scrape(customers)
    assert value(later, "salesops_outbox_oldest_pending_age_seconds") == 7 * 60
    assert value(later, "salesops_outbox_published_total") == 1  # no progress

    # The stream is back: the relay catches up and the lag is gone.
    await ensure_service_stream(js, "customers", namespace)
    await eventually(lambda: published(3))
    caught_up = await scrape(customers)
    assert value(caught_up, "salesops_outbox_pending") == 0
    assert value(caught_up, "salesops_outbox_oldest_pending_age_seconds") == 0


async def test_timers_escalations_consumer_lag_and_dead_letters_show_on_metrics(
    collaboration: RunningService, js: JetStreamContext, namespace: str, clock: ManualClock
) -> None:
    await publish_customer_registered(js, namespace, customer_id="cus-1", owner_id=REP, name="宁波")
    pool = collaboration.runtime.pool
    await until_customers_known(collaboration, 1)
    assert value(await scrape(collaboration), "salesops_timers_pending") == 0
    submitted = await submit_ticket(collaboration, "cus-1", who=REP, product="HY-75")
    assert submitted.status_code == 201, submitted.text
    waiting = await scrape(collaboration)
    assert (
        value(waiting, "salesops_timers_pending"),
        value(waiting, "salesops_timers_overdue"),
    ) == (
        1,
        0,
    )

    # 90 s past the 2 h window and nobody fired it (say the pollers were down).
    clock.advance(timedelta(hours=2, seconds=90))
    assert value(await scrape(collaboration), "salesops_timers_overdue") == 1
    assert await collaboration.fire_due_timers() == 1
    fired = await scrape(collaboration)
    kind = "collaboration.stage_due"
    assert value(fired, "salesops_timer_lateness_seconds_count", kind=kind) == 1
    assert value(fired, "salesops_timer_lateness_seconds_sum", kind=kind) == pytest.approx(90)
    assert value(fired, "salesops_timer_lateness_seconds_bucket", kind=kind, le="60.0") == 0
    assert value(fired, "salesops_timer_lateness_seconds_bucket", kind=kind, le="120.0") == 1
    for event_type in ("TicketTimedOut", "TicketEscalated"):
        assert (
            value(
                fired,
                "salesops_ticket_escalations_total",
                stage="tech_answer",
                event_type=event_type,
            )
            == 1
        )
    # The next level's window is pending; nothing overdue any more.
    assert (value(fired, "salesops_timers_pending"), value(fired, "salesops_timers_overdue")) == (
        1,
        0,
    )

    # The consumer of customer facts is stuck (its table locked): the new facts wait.
    lag = {
        "stream": stream_name_for("customers", namespace),
        "consumer": "collaboration_customer_facts",
    }
    async with pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("LOCK TABLE known_customers IN SHARE MODE")
        for n in range(3):
            await publish_customer_registered(
                js, namespace, customer_id=f"cus-lag-{n}", owner_id=REP, name=f"客户{n}"
            )

        async def lagging() -> bool:
            now = await scrape(collaboration)
            pending = value(now, "salesops_consumer_pending_messages", **lag)
            in_hand = value(now, "salesops_consumer_ack_pending_messages", **lag)
            return in_hand >= 1 and pending + in_hand == 3

        await eventually(lagging)

    async def caught_up() -> bool:
        now = await scrape(collaboration)
        return (
            value(now, "salesops_consumer_pending_messages", **lag)
            + value(now, "salesops_consumer_ack_pending_messages", **lag)
            == 0
        )

    await eventually(caught_up)
    await until_customers_known(collaboration, 4)

    # Not an event at all: parked in SALES_DLQ at once, counted for that consumer.
    assert (
        value(await scrape(collaboration), "salesops_dead_letters", consumer=lag["consumer"]) == 0
    )
    await js.publish(subject_for("customers", "CustomerRegistered", namespace), b"not an event")

    async def dead_lettered() -> bool:
        now = await scrape(collaboration)
        return value(now, "salesops_dead_letters", consumer=lag["consumer"]) == 1

    await eventually(dead_lettered)


@pytest.fixture
async def robot(clock: ManualClock) -> AsyncIterator[DingTalkFake]:
    async with dingtalk_server(secret="SEC-metrics", clock=clock) as fake:
        yield fake


async def test_notification_deliveries_count_by_channel_and_outcome(
    robot: DingTalkFake,
    js: JetStreamContext,
    namespace: str,
    clock: ManualClock,
    start_service: ServiceStarter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_WEBHOOK", robot.webhook_url)
    monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_SECRET", "SEC-metrics")
    async with start_service(NOTIFIER) as notifier:
        worker = notifier.app.state.service.worker

        async def decision_changed(customer_id: str) -> None:
            event = budget_pending(customer_id, datetime(2026, 1, 5, tzinfo=UTC), owner_id=REP)
            await publish_event(js, namespace, event, subject_id=customer_id, actor=REP)

            async def planned() -> bool:
                return bool(
                    await notifier.runtime.pool.fetchval(
                        "SELECT count(*) FROM deliveries WHERE status = 'pending'"
                    )
                )

            await eventually(planned)

        def outcome(samples: Samples, status: str) -> float:
            return value(samples, "salesops_notifications_total", channel="dingtalk", status=status)

        robot.fail_next(-1)  # "system busy": tried again later
        await decision_changed("cus-1")
        assert await worker.tick() == 0
        busy = await scrape(notifier, sample=False)
        assert [outcome(busy, s) for s in ("sent", "failed", "dead_lettered")] == [0, 1, 0]

        clock.advance(timedelta(minutes=15))
        assert await worker.tick() == 1
        robot.fail_next(300001)  # the robot's token is gone: final, dead-lettered
        await decision_changed("cus-2")
        assert await worker.tick() == 0
        after = await scrape(notifier, sample=False)
        assert [outcome(after, s) for s in ("sent", "failed", "dead_lettered")] == [1, 1, 1]
