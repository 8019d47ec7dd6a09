"""The notifier end to end: events from NATS to a real local DingTalk robot and SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from contracts.collaboration import DepartmentQualityAlert
from contracts.customer_actions import NegotiationJoinOverdue
from contracts.notifier import NotificationDelivered, NotificationFailed
from salesops.clock import ManualClock
from salesops.testing.apps import RunningService, ServiceStarter
from salesops.testing.events import (
    EventTap,
    budget_pending,
    publish_envelope,
    publish_event,
    tap_events,
)
from salesops.testing.waiting import eventually
from services.notifier.platform_fakes import DingTalkFake, dingtalk_server
from services.notifier.platform_fakes_other import SmtpFake, smtp_server
from services.notifier.service import NOTIFIER

pytestmark = pytest.mark.integration

REP = "rep-zhang-wei"
MANAGER = "sm-qian-wenbo"  # prefers DingTalk
SECRET = "SEC-robot-secret"


@pytest.fixture
async def robot(clock: ManualClock) -> AsyncIterator[DingTalkFake]:
    async with dingtalk_server(secret=SECRET, clock=clock) as fake:
        yield fake


@pytest.fixture
async def mailbox() -> AsyncIterator[SmtpFake]:
    async with smtp_server(security="none") as fake:
        yield fake


@pytest.fixture
def quiet_hours(tmp_path: Path) -> Path:
    path = tmp_path / "quiet.yaml"
    path.write_text('people:\n  sm-qian-wenbo: {start: "22:00", end: "08:00"}\n')
    return path


@pytest.fixture
async def notifier(
    robot: DingTalkFake,
    mailbox: SmtpFake,
    quiet_hours: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_service: ServiceStarter,
) -> AsyncIterator[RunningService]:
    monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_WEBHOOK", robot.webhook_url)
    monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_SECRET", SECRET)
    monkeypatch.setenv("SALESOPS_NOTIFY_SMTP_HOST", mailbox.host)
    monkeypatch.setenv("SALESOPS_NOTIFY_SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("SALESOPS_NOTIFY_SMTP_SECURITY", "none")
    monkeypatch.setenv("SALESOPS_NOTIFY_QUIET_HOURS_FILE", str(quiet_hours))
    monkeypatch.setenv("SALESOPS_NOTIFY_BASE_URL", "https://sales.example.com")
    async with start_service(NOTIFIER) as service:
        yield service


@pytest.fixture
async def tap(
    notifier: RunningService, js: JetStreamContext, namespace: str
) -> AsyncIterator[EventTap]:
    async with tap_events(js, "notifier", namespace) as event_tap:
        yield event_tap


async def deliveries(service: RunningService, **where: Any) -> list[dict[str, Any]]:
    rows = await service.runtime.pool.fetch("SELECT * FROM deliveries ORDER BY created_at")
    return [dict(r) for r in rows if all(r[k] == v for k, v in where.items())]


async def planned(service: RunningService, count: int) -> None:
    async def enough() -> bool:
        return len(await deliveries(service)) >= count

    await eventually(enough)


async def tick(service: RunningService) -> int:
    sent: int = await service.app.state.service.worker.tick()
    return sent


async def test_a_decision_change_reaches_the_sales_manager_on_a_signed_dingtalk_robot(
    notifier: RunningService,
    robot: DingTalkFake,
    js: JetStreamContext,
    namespace: str,
    tap: EventTap,
) -> None:
    await publish_event(
        js, namespace, budget_pending("cus-1", notifier.clock.now()), subject_id="cus-1"
    )
    await planned(notifier, 1)

    assert await tick(notifier) == 1

    (request,) = robot.received
    assert request.verified, request.notes
    body = robot.bodies()[0]
    assert "预算未批复" in str(body)
    assert "https://sales.example.com/customers/cus-1" in str(body)
    (delivered,) = await tap.next_of(NotificationDelivered)
    assert (delivered.person_id, delivered.channel, delivered.attempts) == (MANAGER, "dingtalk", 1)
    listed = await notifier.client.get(
        f"/deliveries?person_id={MANAGER}", headers=notifier.auth("sd-zhao-guoqiang")
    )
    assert [(d["status"], d["channel"]) for d in listed.json()] == [("sent", "dingtalk")]


async def test_the_same_event_delivered_twice_sends_one_message(
    notifier: RunningService,
    robot: DingTalkFake,
    js: JetStreamContext,
    namespace: str,
) -> None:
    envelope = await publish_event(
        js, namespace, budget_pending("cus-1", notifier.clock.now()), subject_id="cus-1"
    )
    await publish_envelope(js, envelope, msg_id="a-second-copy")
    await publish_event(
        js, namespace, budget_pending("cus-2", notifier.clock.now()), subject_id="cus-2"
    )
    await planned(notifier, 2)
    await tick(notifier)
    assert len(robot.received) == 2  # cus-1 once, cus-2 once


async def test_21_messages_to_one_robot_in_a_minute_send_20_and_the_21st_waits(
    notifier: RunningService,
    robot: DingTalkFake,
    js: JetStreamContext,
    namespace: str,
) -> None:
    for i in range(21):
        await publish_event(
            js, namespace, budget_pending(f"cus-{i}", notifier.clock.now()), subject_id=f"cus-{i}"
        )
    await planned(notifier, 21)

    assert await tick(notifier) == 20
    assert len(robot.received) == 20
    notifier.clock.advance(timedelta(seconds=59))
    assert await tick(notifier) == 0
    notifier.clock.advance(timedelta(seconds=1, microseconds=1))
    assert await tick(notifier) == 1
    assert len(robot.received) == 21
    assert {d["status"] for d in await deliveries(notifier)} == {"sent"}


async def test_a_rate_limited_send_is_retried_with_backoff_and_then_succeeds(
    notifier: RunningService,
    robot: DingTalkFake,
    js: JetStreamContext,
    namespace: str,
) -> None:
    robot.fail_next(130101)  # "send too fast"
    await publish_event(
        js, namespace, budget_pending("cus-1", notifier.clock.now()), subject_id="cus-1"
    )
    await planned(notifier, 1)
    assert await tick(notifier) == 0
    notifier.clock.advance(timedelta(seconds=3))  # past the first back-off (at most 2 s)
    assert await tick(notifier) == 1
    (delivery,) = await deliveries(notifier)
    attempts = await notifier.client.get(
        f"/deliveries/{delivery['delivery_id']}/attempts", headers=notifier.auth("sd-zhao-guoqiang")
    )
    assert [(a["ok"], a["retryable"]) for a in attempts.json()] == [(False, True), (True, False)]
    assert "130101" in attempts.json()[0]["provider_reply"]


async def test_a_refused_message_is_dead_lettered_and_can_be_replayed(
    notifier: RunningService,
    robot: DingTalkFake,
    js: JetStreamContext,
    namespace: str,
    tap: EventTap,
) -> None:
    robot.fail_next(400013)  # a final refusal
    await publish_event(
        js, namespace, budget_pending("cus-1", notifier.clock.now()), subject_id="cus-1"
    )
    await planned(notifier, 1)
    await tick(notifier)
    (failed,) = await tap.next_of(NotificationFailed)
    assert "400013" in failed.reason
    operator = notifier.auth("sd-zhao-guoqiang")
    dead = (await notifier.client.get("/dead-letters", headers=operator)).json()
    assert [d["delivery_id"] for d in dead] == [failed.delivery_id]
    assert (
        await notifier.client.get("/dead-letters", headers=notifier.auth(REP))
    ).status_code == 403

    replay = await notifier.client.post(
        f"/dead-letters/{failed.delivery_id}/replay", headers=operator
    )
    assert replay.status_code == 200
    assert await tick(notifier) == 1
    assert len(robot.verified) == 2


async def test_a_department_quality_alert_is_e_mailed_to_the_head(
    notifier: RunningService,
    mailbox: SmtpFake,
    js: JetStreamContext,
    namespace: str,
) -> None:
    alert = DepartmentQualityAlert(
        team_id="tech-electrical",
        head_id="td-zheng-lixin",
        ticket_ids=["tkt-1", "tkt-2", "tkt-3"],
        improvement_items=["tkt-1: tech_answer 3h10m late (te-luo-bin)"],
        raised_at=notifier.clock.now(),
    )
    await publish_event(js, namespace, alert, subject_id="tech-electrical")
    await planned(notifier, 1)
    assert await tick(notifier) == 1
    (mail,) = mailbox.messages
    assert len(mail.rcpt_tos) == 1
    assert mail.rcpt_tos[0].endswith("@hengyuan.example.com")
    assert "3h10m" in mail.part("text/plain")
    assert "tkt-1" in mail.part("text/html")


async def test_quiet_hours_hold_routine_news_for_a_digest_but_never_an_escalation(
    notifier: RunningService,
    robot: DingTalkFake,
    js: JetStreamContext,
    namespace: str,
) -> None:
    clock = notifier.clock  # 09:00 in Shanghai
    clock.advance(timedelta(hours=14))  # 23:00: the manager's quiet hours
    for customer in ("cus-1", "cus-2"):
        await publish_event(
            js, namespace, budget_pending(customer, clock.now()), subject_id=customer
        )
    overdue = NegotiationJoinOverdue(
        customer_id="cus-3",
        request_id="nj-1",
        manager_id="x",
        due_at=clock.now(),
        escalated_to_id=MANAGER,
        detected_at=clock.now(),
    )
    await publish_event(js, namespace, overdue, subject_id="cus-3")
    await planned(notifier, 3)

    assert await tick(notifier) == 1  # the escalation only
    assert sorted(d["status"] for d in await deliveries(notifier)) == ["held", "held", "sent"]

    clock.advance(timedelta(hours=9) - timedelta(seconds=1))  # 07:59:59
    assert await tick(notifier) == 0
    clock.advance(timedelta(seconds=1))  # 08:00: one digest instead of two messages
    assert await tick(notifier) == 1
    assert len(robot.received) == 2
    digest = str(robot.bodies()[1])
    assert "(2)" in digest
    assert "cus-1" in digest
    assert "cus-2" in digest
