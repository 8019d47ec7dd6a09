"""Table 2 through HTTP and NATS, with real JPEG/PNG/PDF files made in the test."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nats.js import JetStreamContext
from PIL import Image

from contracts.tasks import (
    ConcessionApproved,
    ConcessionExceeded,
    DailyTodoCardIssued,
    TasksOverdue,
    TaskSubmitted,
)
from salesops.testing.apps import RunningService
from salesops.testing.commands import plan_task
from salesops.testing.events import (
    EventTap,
    publish_customer_registered,
    tap_events,
    until_customers_known,
)
from salesops.testing.evidence_files import exif_time, pdf, photo

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
REP = "rep-zhang-wei"
OTHER_REP = "rep-chen-jing"
LEAD = "gl-li-na"
DIRECTOR = "sd-zhao-guoqiang"
CUSTOMER = "cus-ningbo"
CUSTOMER_NAME = "宁波精密模具"


@pytest.fixture
async def service(tasks: RunningService, js: JetStreamContext, namespace: str) -> RunningService:
    await publish_customer_registered(
        js, namespace, customer_id=CUSTOMER, owner_id=REP, name=CUSTOMER_NAME
    )
    await publish_customer_registered(
        js, namespace, customer_id="cus-other", owner_id=OTHER_REP, name="别人的客户"
    )
    await until_customers_known(tasks, 2)
    return tasks


@pytest.fixture
async def tap(
    service: RunningService, js: JetStreamContext, namespace: str
) -> AsyncIterator[EventTap]:
    async with tap_events(js, "tasks", namespace) as event_tap:
        yield event_tap


def jpeg(taken: datetime | None) -> bytes:
    """A 640 x 480 visit photo from the rep's phone, taken at ``taken`` (``None``: undated)."""
    when = None if taken is None else exif_time(taken, SHANGHAI)
    return photo(taken=when, serial="SN-778899", size=(640, 480))


async def plan(
    service: RunningService,
    kind: str,
    at: datetime,
    customer: str = CUSTOMER,
    who: str = REP,
    expect: int = 201,
) -> dict[str, Any]:
    response = await plan_task(service, customer, who=who, at=at, kind=kind)
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def submit(
    service: RunningService,
    task_id: str,
    *,
    who: str = REP,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    data: dict[str, str] | None = None,
) -> Any:
    return await service.client.post(
        f"/tasks/{task_id}/submission", files=files, data=data, headers=service.auth(who)
    )


async def test_a_rep_plans_tasks_only_for_their_own_customers(service: RunningService) -> None:
    at = service.clock.now() + timedelta(hours=2)
    planned = await plan(service, "visit", at)
    assert (planned["status"], planned["rep_id"]) == ("planned", REP)
    await plan(service, "visit", at, customer="cus-other", expect=403)
    await plan(service, "visit", at, customer="cus-unknown", expect=422)


async def test_a_visit_photo_within_2_hours_is_accepted_and_reviewers_see_it_watermarked(
    service: RunningService, tap: EventTap
) -> None:
    at = service.clock.now() + timedelta(hours=1)
    task = await plan(service, "visit", at)
    original = jpeg(at + timedelta(hours=2))

    response = await submit(
        service, task["task_id"], files={"file": ("visit.jpg", original, "image/jpeg")}
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "submitted"
    (submitted,) = await tap.next_of(TaskSubmitted)
    (evidence,) = submitted.evidence
    assert (evidence.kind, evidence.device_id) == ("photo", "SN-778899")
    assert evidence.capture_time == at + timedelta(hours=2)
    copy = await service.client.get(
        f"/tasks/{task['task_id']}/evidence/{evidence.sha256}", headers=service.auth(LEAD)
    )
    assert copy.status_code == 200
    assert copy.headers["content-type"] == "image/jpeg"
    assert copy.content != original
    assert Image.open(io.BytesIO(copy.content)).size == (640, 480)
    listed = await service.client.get(
        f"/tasks/{task['task_id']}/evidence", headers=service.auth(LEAD)
    )
    (shown,) = listed.json()
    assert (shown["sha256"], shown["kind"], shown["device_id"]) == (
        evidence.sha256,
        "photo",
        "SN-778899",
    )
    assert shown["copy_path"] == f"/tasks/{task['task_id']}/evidence/{evidence.sha256}"
    assert shown["capture_time"].startswith((at + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))


@pytest.mark.parametrize(
    ("photo", "reason"),
    [
        (lambda at: jpeg(at + timedelta(hours=3, minutes=10)), "3h10m after the scheduled time"),
        (lambda at: jpeg(None), "no capture time"),
        (lambda at: pdf(), "must be a JPEG or PNG image; this file is a PDF"),
    ],
)
async def test_a_visit_photo_that_proves_nothing_is_refused_with_the_reason(
    service: RunningService, photo: Any, reason: str
) -> None:
    at = service.clock.now() + timedelta(hours=1)
    task = await plan(service, "visit", at)
    response = await submit(
        service, task["task_id"], files={"file": ("visit.jpg", photo(at), "image/jpeg")}
    )
    assert response.status_code == 422
    assert reason in response.json()["detail"]
    assert (
        await service.client.get(f"/tasks/{task['task_id']}", headers=service.auth(REP))
    ).json()["status"] == "planned"


async def test_a_proposal_pdf_must_be_named_after_the_customer_and_the_day(
    service: RunningService,
) -> None:
    at = service.clock.now() + timedelta(hours=1)
    task = await plan(service, "proposal", at)
    day = at.astimezone(SHANGHAI).strftime("%Y%m%d")
    wrong = await submit(
        service, task["task_id"], files={"file": (f"方案_{day}.pdf", pdf(), "application/pdf")}
    )
    assert wrong.status_code == 422
    assert CUSTOMER_NAME in wrong.json()["detail"]
    right = await submit(
        service,
        task["task_id"],
        files={"file": (f"{CUSTOMER_NAME}_方案_{day}.pdf", pdf(), "application/pdf")},
    )
    assert right.status_code == 200, right.text


async def test_a_quote_over_12_percent_is_locked_until_the_director_approves(
    service: RunningService, tap: EventTap
) -> None:
    at = service.clock.now() + timedelta(hours=1)
    fine = await plan(service, "quote", at)
    at_limit = await submit(
        service, fine["task_id"], data={"target_price": "100000.00", "deal_price": "88000.00"}
    )
    assert (at_limit.json()["status"], at_limit.json()["concession_pct"]) == ("submitted", "12.00")

    task = await plan(service, "quote", at)
    over = await submit(
        service, task["task_id"], data={"target_price": "100000.00", "deal_price": "87990.00"}
    )
    assert over.json()["status"] == "locked"
    (exceeded,) = await tap.next_of(ConcessionExceeded)
    assert exceeded.concession_pct == Decimal("12.01")
    again = await submit(
        service, task["task_id"], data={"target_price": "100000.00", "deal_price": "99000.00"}
    )
    assert again.status_code == 409

    url = f"/tasks/{task['task_id']}/concession-decision"
    decision = {"decision": "approve", "reason": "战略客户，首单让利"}
    assert (
        await service.client.post(url, json=decision, headers=service.auth(LEAD))
    ).status_code == 403
    queue = await service.client.get("/tasks/awaiting-decision", headers=service.auth(DIRECTOR))
    assert [t["task_id"] for t in queue.json()] == [task["task_id"]]
    approved = await service.client.post(url, json=decision, headers=service.auth(DIRECTOR))
    assert approved.json()["status"] == "approved"
    (event,) = await tap.next_of(ConcessionApproved)
    assert (event.decided_by, event.reason) == (DIRECTOR, "战略客户，首单让利")


async def test_a_float_looking_price_is_refused_naming_the_field(service: RunningService) -> None:
    task = await plan(service, "quote", service.clock.now() + timedelta(hours=1))
    response = await submit(
        service, task["task_id"], data={"target_price": "1e5x", "deal_price": "1"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "target_price"


async def test_only_the_rep_submits_and_only_supervisors_read(service: RunningService) -> None:
    task = await plan(service, "quote", service.clock.now() + timedelta(hours=1))
    response = await submit(
        service, task["task_id"], who=LEAD, data={"target_price": "100", "deal_price": "99"}
    )
    assert response.status_code == 403
    url = f"/tasks/{task['task_id']}"
    assert (await service.client.get(url, headers=service.auth(LEAD))).status_code == 200
    assert (await service.client.get(url, headers=service.auth(OTHER_REP))).status_code == 403


async def test_the_18_00_card_lists_open_tasks_and_the_deadline_tells_the_supervisor(
    service: RunningService, tap: EventTap
) -> None:
    clock = service.clock  # 09:00 in Shanghai
    done = await plan(service, "quote", clock.now() + timedelta(hours=1))
    left = await plan(service, "other", clock.now() + timedelta(hours=3))
    await plan(service, "other", clock.now() + timedelta(days=2))  # not today: not on the card
    await submit(service, done["task_id"], data={"target_price": "100", "deal_price": "95"})

    clock.advance(timedelta(hours=9) - timedelta(microseconds=1))  # 17:59:59.999999
    await service.fire_due_timers()
    assert tap.of(DailyTodoCardIssued) == []
    clock.advance(timedelta(microseconds=1))
    await service.fire_due_timers()
    (card,) = await tap.next_of(DailyTodoCardIssued)
    assert card.rep_id == REP
    assert [t.task_id for t in card.open_tasks] == [left["task_id"]]
    assert card.submit_by.astimezone(SHANGHAI).hour == 21

    clock.advance(timedelta(hours=3))
    await service.fire_due_timers()
    (overdue,) = await tap.next_of(TasksOverdue)
    assert (overdue.rep_id, overdue.supervisor_id) == (REP, LEAD)
    assert [t.task_id for t in overdue.overdue_tasks] == [left["task_id"]]
