"""Table 3 through HTTP and NATS: one ticket through every stage, one through escalations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext

from contracts.collaboration import (
    DepartmentQualityAlert,
    DocumentsCompleted,
    InfoRequested,
    InfoSupplied,
    ReceiptConfirmed,
    StockingStarted,
    TicketAnswered,
    TicketDispatched,
    TicketEscalated,
    TicketRated,
    TicketShipped,
    TicketSubmitted,
    TicketTimedOut,
)
from salesops.testing.apps import RunningService
from salesops.testing.commands import submit_ticket
from salesops.testing.events import (
    EventTap,
    publish_customer_registered,
    tap_events,
    until_customers_known,
)

pytestmark = pytest.mark.integration

REP = "rep-zhang-wei"
OTHER_REP = "rep-chen-jing"
ELECTRICAL = "tech-electrical"  # chain: te-luo-bin -> tl-gao-jianjun -> td-zheng-lixin
STRUCTURAL = "tech-structural"  # chain: te-tang-liang -> tl-song-zhigang -> td-zheng-lixin
LOGISTICS_CLERK = "lg-cao-yang"
MICRO = timedelta(microseconds=1)


@pytest.fixture
async def service(
    collaboration: RunningService, js: JetStreamContext, namespace: str
) -> RunningService:
    await publish_customer_registered(
        js, namespace, customer_id="cus-1", owner_id=REP, name="宁波精密模具"
    )
    await until_customers_known(collaboration, 1)
    return collaboration


@pytest.fixture
async def tap(
    service: RunningService, js: JetStreamContext, namespace: str
) -> AsyncIterator[EventTap]:
    async with tap_events(js, "collaboration", namespace) as event_tap:
        yield event_tap


async def call(
    service: RunningService, method: str, url: str, who: str, body: Any = None, expect: int = 200
) -> Any:
    response = await service.client.request(method, url, json=body, headers=service.auth(who))
    assert response.status_code == expect, response.text
    return response.json()


async def submit(service: RunningService, documents: list[str]) -> str:
    response = await submit_ticket(
        service, "cus-1", who=REP, quantity=2, document_types=documents, note="客户周五要"
    )
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["ticket_id"]
    return ticket_id


async def test_a_sample_request_goes_through_every_stage(
    service: RunningService, tap: EventTap
) -> None:
    ticket = await submit(service, ["ce_certification_report", "installation_drawing_3d"])
    url = f"/tickets/{ticket}"
    dispatched = await tap.next_of(TicketDispatched, count=2)
    assert {(d.team_id, d.owner_id) for d in dispatched} == {
        (ELECTRICAL, "te-luo-bin"),
        (STRUCTURAL, "te-tang-liang"),
    }

    refused = await service.client.post(f"{url}/stocking", headers=service.auth(LOGISTICS_CLERK))
    assert refused.status_code == 409
    assert ELECTRICAL in refused.json()["detail"]
    assert STRUCTURAL in refused.json()["detail"]
    # Structural answers at once; electrical needs more from sales first.
    await call(
        service, "POST", f"{url}/tech/{STRUCTURAL}/answer", "te-tang-liang", {"answer": "provided"}
    )

    await call(
        service,
        "POST",
        f"{url}/tech/{ELECTRICAL}/answer",
        "te-luo-bin",
        {"answer": "needs_info", "missing_items": []},
        expect=422,
    )
    await call(
        service,
        "POST",
        f"{url}/tech/{ELECTRICAL}/answer",
        "te-luo-bin",
        {"answer": "needs_info", "missing_items": ["电压规格"]},
    )
    waiting = await call(service, "GET", url, REP)
    asked = next(s for s in waiting["stages"] if s["team_id"] == ELECTRICAL)
    assert asked["missing_items"] == ["电压规格"]  # the rep sees what to supply
    assert waiting["customer_name"] == "宁波精密模具"
    service.clock.advance(timedelta(hours=5))  # the electrical clock is paused meanwhile
    await service.fire_due_timers()
    await call(service, "POST", f"{url}/tech/{ELECTRICAL}/info", REP, {"info": "380V 三相"})
    supplied_view = await call(service, "GET", url, REP)
    assert all(s["missing_items"] is None for s in supplied_view["stages"])
    (supplied,) = await tap.next_of(InfoSupplied)
    (requested,) = await tap.next_of(InfoRequested)
    assert supplied.due_at == service.clock.now() + timedelta(seconds=requested.time_left_seconds)

    await call(
        service,
        "POST",
        f"{url}/tech/{ELECTRICAL}/answer",
        "te-tang-liang",
        {"answer": "provided"},
        expect=403,
    )  # another group's engineer
    await call(
        service, "POST", f"{url}/tech/{ELECTRICAL}/answer", "te-luo-bin", {"answer": "provided"}
    )
    (completed,) = await tap.next_of(DocumentsCompleted)
    assert completed.stocking_due_at == service.clock.now() + timedelta(hours=4)

    await call(service, "POST", f"{url}/stocking", REP, expect=403)
    await call(service, "POST", f"{url}/stocking", LOGISTICS_CLERK)
    await call(service, "POST", f"{url}/shipment", LOGISTICS_CLERK, {"tracking": "SF123"})
    await call(service, "POST", f"{url}/receipt", OTHER_REP, expect=403)
    await call(service, "POST", f"{url}/receipt", REP)
    rated = await call(service, "POST", f"{url}/rating", REP, {"stars": 4, "comment": "很快"})
    assert rated["status"] == "rated"

    for event in (
        TicketSubmitted,
        TicketAnswered,
        StockingStarted,
        TicketShipped,
        ReceiptConfirmed,
    ):
        await tap.next_of(event)
    (rating,) = await tap.next_of(TicketRated)
    assert sorted(rating.team_ids) == sorted([ELECTRICAL, STRUCTURAL, "logistics"])
    assert tap.of(TicketTimedOut) == []
    assert await call(service, "GET", "/sla-board", REP) == []


async def test_an_unanswered_ticket_climbs_the_chain_level_by_level(
    service: RunningService, tap: EventTap
) -> None:
    ticket = await submit(service, ["ce_certification_report"])
    clock = service.clock
    clock.advance(timedelta(hours=2))
    await service.fire_due_timers()
    assert tap.of(TicketTimedOut) == []  # exactly 2 h: still on time
    board = await call(service, "GET", "/sla-board", REP)
    assert [(line["status"], line["owner_id"]) for line in board] == [("at_risk", "te-luo-bin")]
    assert board[0]["customer_name"] == "宁波精密模具"

    clock.advance(MICRO)
    await service.fire_due_timers()
    (first,) = await tap.next_of(TicketTimedOut)
    assert (first.escalation_level, first.owner_id, first.escalated_to_id) == (
        1,
        "te-luo-bin",
        "tl-gao-jianjun",
    )
    board = await call(service, "GET", "/sla-board", REP)
    assert [(line["status"], line["owner_id"], line["escalation_level"]) for line in board] == [
        ("overdue", "tl-gao-jianjun", 1)
    ]

    clock.advance(timedelta(hours=2))
    await service.fire_due_timers()
    second = (await tap.next_of(TicketTimedOut, count=2))[1]
    assert (second.escalation_level, second.escalated_to_id) == (2, "td-zheng-lixin")
    escalations = await tap.next_of(TicketEscalated, count=2)
    assert [e.to_owner_id for e in escalations] == ["tl-gao-jianjun", "td-zheng-lixin"]

    clock.advance(timedelta(hours=2))
    await service.fire_due_timers()
    third = (await tap.next_of(TicketTimedOut, count=3))[2]
    assert (third.escalation_level, third.escalated_to_id) == (3, None)  # still reported

    answered = await call(
        service,
        "POST",
        f"/tickets/{ticket}/tech/{ELECTRICAL}/answer",
        "td-zheng-lixin",
        {"answer": "provided"},
    )
    assert answered["status"] == "documents_complete"


async def drive_to_rating(service: RunningService, stars: int) -> None:
    ticket = await submit(service, ["ce_certification_report"])
    url = f"/tickets/{ticket}"
    await call(
        service, "POST", f"{url}/tech/{ELECTRICAL}/answer", "te-luo-bin", {"answer": "provided"}
    )
    await call(service, "POST", f"{url}/stocking", LOGISTICS_CLERK)
    await call(service, "POST", f"{url}/shipment", LOGISTICS_CLERK, {})
    await call(service, "POST", f"{url}/receipt", REP)
    await call(service, "POST", f"{url}/rating", REP, {"stars": stars, "comment": "CE报告一直没给"})
    service.clock.advance(timedelta(minutes=1))


async def test_three_low_ratings_in_a_row_alert_the_department_head(
    service: RunningService, tap: EventTap
) -> None:
    for stars in (2, 2, 3, 2, 2):
        await drive_to_rating(service, stars)
    await tap.next_of(TicketRated, count=5)
    assert tap.of(DepartmentQualityAlert) == []  # the 3 broke the run

    await drive_to_rating(service, 1)
    alerts = await tap.next_of(DepartmentQualityAlert, count=2)
    assert {(a.team_id, a.head_id) for a in alerts} == {
        (ELECTRICAL, "td-zheng-lixin"),
        ("logistics", "ll-feng-deming"),
    }
    assert all(len(a.ticket_ids) == 3 for a in alerts)


async def test_repeated_document_requests_show_self_service_candidates(
    service: RunningService,
) -> None:
    for documents in (["ce_certification_report"],) * 3 + (["installation_drawing_3d"],):
        await submit(service, documents)
    report = await call(service, "GET", "/reports/repeated-documents", REP)
    assert [(line["document_type"], line["requests"]) for line in report["lines"]] == [
        ("ce_certification_report", 3)
    ]
    assert [c["document_type"] for c in report["self_service_candidates"]] == [
        "ce_certification_report"
    ]


async def test_unknown_document_types_are_refused_listing_the_known_ones(
    service: RunningService,
) -> None:
    response = await submit_ticket(
        service, "cus-1", who=REP, product="HY-75", document_types=["moon_landing_certificate"]
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "document_types"
    assert "ce_certification_report" in response.json()["detail"]


async def test_each_person_lists_the_tickets_they_work_on(service: RunningService) -> None:
    electrical = await submit(service, ["ce_certification_report"])
    service.clock.advance(timedelta(minutes=1))  # "newest first" needs a newest
    structural = await submit(service, ["installation_drawing_3d"])

    async def ids(who: str) -> list[str]:
        return [t["ticket_id"] for t in await call(service, "GET", "/tickets", who)]

    assert await ids(REP) == [structural, electrical]  # newest first
    assert await ids("gl-li-na") == [structural, electrical]  # the rep's group lead
    assert await ids(OTHER_REP) == []
    assert await ids("te-luo-bin") == [electrical]  # the electrical group's queue
    assert await ids("te-tang-liang") == [structural]
    assert await ids(LOGISTICS_CLERK) == []  # nothing to stock yet
    await call(
        service, "POST", f"/tickets/{electrical}/tech/{ELECTRICAL}/answer", "te-luo-bin",
        {"answer": "provided"},
    )  # fmt: skip
    assert await ids(LOGISTICS_CLERK) == [electrical]
    assert await ids("te-luo-bin") == []  # answered: off the queue


async def test_the_document_types_say_which_group_provides_them(service: RunningService) -> None:
    documents = {d["id"]: d for d in await call(service, "GET", "/document-types", REP)}
    assert documents["ce_certification_report"]["team_id"] == ELECTRICAL
    assert documents["installation_drawing_3d"]["name_zh"] == "3D安装图"


async def test_an_admin_and_the_director_see_every_ticket(service: RunningService) -> None:
    ticket = await submit(service, ["ce_certification_report"])
    for who in ("it-fang-min", "sd-zhao-guoqiang"):
        listed = await call(service, "GET", "/tickets", who)
        assert [t["ticket_id"] for t in listed] == [ticket], who
