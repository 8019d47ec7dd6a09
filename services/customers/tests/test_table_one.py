"""Table 1 through HTTP and NATS, crossing 24 h, 4 h, 7 days and the meeting by the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext

from contracts.customer_actions import (
    CustomerWentStale,
    NegotiationJoinOverdue,
    NegotiationJoinRequested,
    NextActionOverdue,
    NextActionsNotUpdated,
)
from contracts.customer_reports import ProgressReported, SupportAnswerOverdue
from contracts.customers import FollowUpLogged
from salesops.testing.apps import RunningService
from salesops.testing.events import EventTap, tap_events

pytestmark = pytest.mark.integration

REP = "rep-zhang-wei"  # -> gl-li-na -> sm-qian-wenbo -> sd-zhao-guoqiang
OTHER_REP = "rep-chen-jing"
LEAD = "gl-li-na"
MANAGER = "sm-qian-wenbo"
OTHER_MANAGER = "sm-sun-xiaoyan"
DIRECTOR = "sd-zhao-guoqiang"
MICRO = timedelta(microseconds=1)


@pytest.fixture
async def tap(
    customers: RunningService, js: JetStreamContext, namespace: str
) -> AsyncIterator[EventTap]:
    async with tap_events(js, "customers", namespace) as event_tap:
        yield event_tap


async def new_customer(service: RunningService, who: str = REP, **changes: Any) -> dict[str, Any]:
    body = {"name": "宁波精密模具", "tier": "A", "estimated_contribution": "1000000", **changes}
    response = await service.client.post("/customers", json=body, headers=service.auth(who))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def call(
    service: RunningService, method: str, url: str, who: str, body: Any = None, expect: int = 200
) -> Any:
    response = await service.client.request(method, url, json=body, headers=service.auth(who))
    assert response.status_code == expect, response.text
    return response.json()


# -- follow-ups and stale customers --------------------------------------------------------


async def test_last_contact_follows_the_newest_follow_up_in_whatever_order_they_arrive(
    customers: RunningService, tap: EventTap
) -> None:
    c = await new_customer(customers)
    now = customers.clock.now()
    url = f"/customers/{c['customer_id']}/follow-ups"
    newer = (now - timedelta(hours=1)).isoformat()
    older = (now - timedelta(days=2)).isoformat()
    await call(
        customers,
        "POST",
        url,
        REP,
        {
            "kind": "visit",
            "contacted_at": newer,
            "notes": "到厂看产线",
            "competitor_notes": "竞品压价 8%",
        },
        expect=201,
    )
    after = await call(
        customers,
        "POST",
        url,
        REP,
        {"kind": "call", "contacted_at": older, "notes": "补记前天电话"},
        expect=201,
    )

    assert after["last_contact_at"] == newer.replace("+00:00", "Z")
    history = await call(customers, "GET", url, REP)
    assert [f["kind"] for f in history] == ["visit", "call"]
    logged = await tap.next_of(FollowUpLogged, count=2)
    assert [e.last_contact_at.isoformat() for e in logged] == [newer, newer]


async def test_a_customer_goes_stale_after_more_than_7_days_and_a_follow_up_clears_it(
    customers: RunningService, tap: EventTap
) -> None:
    c = await new_customer(customers)
    url = f"/customers/{c['customer_id']}"
    customers.clock.advance(timedelta(days=7))
    await customers.fire_due_timers()
    assert (await call(customers, "GET", url, REP))["stale"] is False

    customers.clock.advance(MICRO)
    await customers.fire_due_timers()
    assert (await call(customers, "GET", url, REP))["stale"] is True
    (stale,) = await tap.next_of(CustomerWentStale)
    assert (stale.customer_id, stale.owner_id) == (c["customer_id"], REP)
    listed = await call(customers, "GET", "/customers?stale=true", LEAD)
    assert [row["customer_id"] for row in listed] == [c["customer_id"]]

    await call(
        customers,
        "POST",
        f"{url}/follow-ups",
        REP,
        {"kind": "visit", "contacted_at": customers.clock.now().isoformat(), "notes": "回访"},
        expect=201,
    )
    assert (await call(customers, "GET", url, REP))["stale"] is False


# -- decision state and the negotiation join -------------------------------------------------


async def test_intent_confirmed_asks_the_manager_who_alone_may_confirm(
    customers: RunningService, tap: EventTap
) -> None:
    c = await new_customer(customers)
    url = f"/customers/{c['customer_id']}"
    await call(customers, "PUT", f"{url}/decision-state", REP, {"state": "intent_confirmed"})
    (request,) = await tap.next_of(NegotiationJoinRequested)
    assert request.manager_id == MANAGER
    assert request.due_at == customers.clock.now() + timedelta(hours=24)

    await call(customers, "POST", f"{url}/negotiation-join/confirm", DIRECTOR, expect=403)
    waiting = await call(customers, "GET", "/customers/negotiation-joins", MANAGER)
    assert [w["customer_id"] for w in waiting] == [c["customer_id"]]
    assert await call(customers, "GET", "/customers/negotiation-joins", DIRECTOR) == []
    customers.clock.advance(timedelta(hours=24))
    confirmed = await call(customers, "POST", f"{url}/negotiation-join/confirm", MANAGER)
    assert confirmed["negotiation_status"] == "confirmed"
    assert await call(customers, "GET", "/customers/negotiation-joins", MANAGER) == []
    customers.clock.advance(timedelta(hours=1))
    await customers.fire_due_timers()
    assert (
        await customers.runtime.pool.fetchval(
            "SELECT count(*) FROM timers WHERE kind = 'customers.negotiation_join_due'"
        )
        == 0
    )  # its timer went with the confirmation
    assert tap.of(NegotiationJoinOverdue) == []


async def test_an_unconfirmed_negotiation_join_escalates_to_the_managers_manager_after_24_h(
    customers: RunningService, tap: EventTap
) -> None:
    c = await new_customer(customers)
    url = f"/customers/{c['customer_id']}"
    await call(customers, "PUT", f"{url}/decision-state", REP, {"state": "intent_confirmed"})
    customers.clock.advance(timedelta(hours=24))
    await customers.fire_due_timers()
    assert tap.of(NegotiationJoinOverdue) == []

    customers.clock.advance(MICRO)
    await customers.fire_due_timers()
    (overdue,) = await tap.next_of(NegotiationJoinOverdue)
    assert (overdue.manager_id, overdue.escalated_to_id) == (MANAGER, DIRECTOR)
    assert (await call(customers, "GET", url, REP))["negotiation_status"] == "overdue"


# -- next actions and the morning meeting ------------------------------------------------------


async def test_a_next_action_not_completed_by_its_due_time_is_overdue_and_completes_late(
    customers: RunningService, tap: EventTap
) -> None:
    c = await new_customer(customers)
    url = f"/customers/{c['customer_id']}/next-action"
    due = customers.clock.now() + timedelta(hours=2)
    body = {
        "kind": "send_parameter_comparison",
        "description": "发参数对比表",
        "due_at": due.isoformat(),
    }
    await call(customers, "PUT", url, LEAD, body, expect=403)  # the owner commits
    await call(customers, "PUT", url, REP, body)
    customers.clock.advance(timedelta(hours=2, microseconds=1))
    await customers.fire_due_timers()

    (overdue,) = await tap.next_of(NextActionOverdue)
    assert overdue.due_at == due
    done = await call(customers, "POST", f"{url}/complete", REP)
    assert done["next_action_status"] == "completed_late"


async def test_the_morning_meeting_flags_customers_without_an_updated_next_action(
    customers: RunningService, tap: EventTap
) -> None:
    clock = customers.clock  # starts on a Monday at 09:00 Shanghai; next meeting: tomorrow
    kept = await new_customer(customers, name="更新了的客户")
    forgotten = await new_customer(customers, name="忘了更新的客户")
    other = await new_customer(customers, who=OTHER_REP, name="别组客户")
    for c, who in ((kept, REP), (other, OTHER_REP)):
        await call(
            customers,
            "PUT",
            f"/customers/{c['customer_id']}/next-action",
            who,
            {
                "kind": "other",
                "description": "电话跟进",
                "due_at": (clock.now() + timedelta(days=3)).isoformat(),
            },
        )

    clock.advance(timedelta(hours=24) - MICRO)
    assert await customers.fire_due_timers() == 0
    clock.advance(MICRO)
    assert await customers.fire_due_timers() == 1

    (flag,) = await tap.next_of(NextActionsNotUpdated)
    assert (flag.rep_id, flag.supervisor_id) == (REP, LEAD)
    assert flag.customer_ids == [forgotten["customer_id"]]
    red = await call(customers, "GET", "/customers?red_flagged=true", LEAD)
    assert [row["customer_id"] for row in red] == [forgotten["customer_id"]]

    # The next day, nobody updated anything: all three are flagged, one event per rep.
    await call(
        customers,
        "PUT",
        f"/customers/{forgotten['customer_id']}/next-action",
        REP,
        {
            "kind": "other",
            "description": "补上",
            "due_at": (clock.now() + timedelta(days=1)).isoformat(),
        },
    )
    assert (await call(customers, "GET", f"/customers/{forgotten['customer_id']}", REP))[
        "red_flag"
    ] is False
    clock.advance(timedelta(hours=24))
    assert await customers.fire_due_timers() == 1
    flags = await tap.next_of(NextActionsNotUpdated, count=3)
    assert sorted((f.rep_id, len(f.customer_ids)) for f in flags[1:]) == [(OTHER_REP, 1), (REP, 1)]


# -- progress report ------------------------------------------------------------------------


async def test_a_progress_report_reaches_the_supervisor_and_escalates_after_4_hours(
    customers: RunningService, tap: EventTap
) -> None:
    c = await new_customer(customers)
    url = f"/customers/{c['customer_id']}/progress-reports"
    form = {"key_action": "quoted", "obstacle": "competitor_price_pressure"}
    too_long = await customers.client.post(
        url, json={**form, "support_needed": "需" * 51}, headers=customers.auth(REP)
    )
    assert too_long.status_code == 422
    assert too_long.json()["errors"] == [
        {"field": "support_needed", "reason": "is 51 characters; at most 50"}
    ]
    report = await call(
        customers, "POST", url, REP, {**form, "support_needed": "需" * 50}, expect=201
    )

    todo = await call(customers, "GET", "/progress-reports/todo", LEAD)
    assert [r["report_id"] for r in todo] == [report["report_id"]]
    answer_url = f"/progress-reports/{report['report_id']}/answer"
    await call(customers, "POST", answer_url, MANAGER, {"answer": "coordinated"}, expect=403)

    customers.clock.advance(timedelta(hours=4, microseconds=1))
    await customers.fire_due_timers()
    (overdue,) = await tap.next_of(SupportAnswerOverdue)
    assert (overdue.supervisor_id, overdue.escalated_to_id) == (LEAD, MANAGER)
    assert [
        r["report_id"] for r in await call(customers, "GET", "/progress-reports/todo", MANAGER)
    ] == [report["report_id"]]
    answered = await call(
        customers, "POST", answer_url, MANAGER, {"answer": "need_more_info", "note": "报价单发我"}
    )
    assert answered["answer"] == "need_more_info"
    assert (await tap.next_of(ProgressReported))[0].supervisor_id == LEAD
    # The rep sees the answer on the customer's reports.
    (mine,) = await call(customers, "GET", url, REP)
    assert (mine["answer"], mine["note"], mine["answered_by"]) == (
        "need_more_info",
        "报价单发我",
        MANAGER,
    )
    await call(customers, "GET", url, "rep-chen-jing", expect=403)


# -- who may do what ----------------------------------------------------------------------------


async def test_only_a_lead_or_above_reassigns_and_only_within_their_team(
    customers: RunningService,
) -> None:
    c = await new_customer(customers)
    url = f"/customers/{c['customer_id']}/owner"
    await call(customers, "PUT", url, REP, {"owner_id": "rep-wang-fang"}, expect=403)
    await call(customers, "PUT", url, LEAD, {"owner_id": OTHER_REP}, expect=403)
    moved = await call(customers, "PUT", url, LEAD, {"owner_id": "rep-wang-fang"})
    assert moved["owner_id"] == "rep-wang-fang"
    await call(customers, "GET", f"/customers/{c['customer_id']}", REP, expect=403)


async def test_a_rep_changes_the_tier_of_their_own_customer_only(customers: RunningService) -> None:
    c = await new_customer(customers)
    url = f"/customers/{c['customer_id']}/tier"
    await call(customers, "PUT", url, OTHER_REP, {"tier": "B"}, expect=403)
    assert (await call(customers, "PUT", url, REP, {"tier": "B"}))["tier"] == "B"


async def test_an_unknown_enum_value_lists_the_allowed_ones(customers: RunningService) -> None:
    c = await new_customer(customers)
    response = await customers.client.post(
        f"/customers/{c['customer_id']}/progress-reports",
        json={"key_action": "golfed", "obstacle": "budget_frozen", "support_needed": "x"},
        headers=customers.auth(REP),
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "key_action"
    for allowed in ("contract_signed", "sample_sent", "quoted", "visit_scheduled"):
        assert allowed in error["reason"]


# -- targets ----------------------------------------------------------------------------------


async def test_a_target_is_split_down_to_the_reps_and_coverage_follows_the_customers(
    customers: RunningService,
) -> None:
    await new_customer(customers, estimated_contribution="3000000")
    period = "2026-Q1"
    url = f"/targets/{period}/allocations"
    bad = await customers.client.post(
        url,
        json={
            "parent_id": "hq",
            "parent_amount": "12000000",
            "rationale": "按客户池",
            "shares": [
                {"node_id": "region-east", "amount": "7000000"},
                {"node_id": "region-south", "amount": "4999999.99"},
            ],
        },
        headers=customers.auth(DIRECTOR),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "shares"
    await call(
        customers,
        "POST",
        url,
        MANAGER,
        {
            "parent_id": "hq",
            "parent_amount": "12000000",
            "rationale": "按客户池",
            "shares": [
                {"node_id": "region-east", "amount": "7000000"},
                {"node_id": "region-south", "amount": "5000000"},
            ],
        },
        expect=403,
    )
    await call(
        customers,
        "POST",
        url,
        DIRECTOR,
        {
            "parent_id": "hq",
            "parent_amount": "12000000",
            "rationale": "华东客户池更大",
            "shares": [
                {"node_id": "region-east", "amount": "7000000"},
                {"node_id": "region-south", "amount": "5000000"},
            ],
        },
    )
    await call(
        customers,
        "POST",
        url,
        MANAGER,
        {
            "parent_id": "region-east",
            "rationale": "一组客户多",
            "shares": [
                {"node_id": "group-east-1", "amount": "4000000"},
                {"node_id": "group-east-2", "amount": "3000000"},
            ],
        },
    )
    lines = await call(
        customers,
        "POST",
        url,
        LEAD,
        {
            "parent_id": "group-east-1",
            "rationale": "张伟的 A 类客户最多",
            "shares": [
                {"node_id": REP, "amount": "2000000"},
                {"node_id": "rep-wang-fang", "amount": "1000000"},
                {"node_id": "rep-liu-yang", "amount": "1000000"},
            ],
        },
    )
    by_node = {line["node_id"]: line for line in lines}
    assert by_node[REP]["target"] == "2000000"
    assert by_node[REP]["covered"] == "3000000"
    assert by_node[REP]["coverage_pct"] == "150.00"
    assert by_node["group-east-1"]["covered"] == "3000000"
    assert by_node["group-east-1"]["coverage_pct"] == "75.00"


async def test_the_read_model_row_holds_exactly_the_state_the_event_stream_folds_to(
    customers: RunningService,
) -> None:
    """Commands decide on the locked read-model row; it must never drift from the events."""
    from salesops.recording import published_events
    from services.customers import customer_state as state
    from services.customers import read_model
    from services.customers.handlers import customer_stream

    c = await new_customer(customers)
    url = f"/customers/{c['customer_id']}"
    clock = customers.clock
    steps: list[tuple[str, str, str, Any]] = [
        ("PUT", f"{url}/decision-state", REP, {"state": "intent_confirmed"}),
        (
            "POST",
            f"{url}/follow-ups",
            REP,
            {"kind": "visit", "contacted_at": clock.now().isoformat(), "notes": "到访"},
        ),
        (
            "PUT",
            f"{url}/next-action",
            REP,
            {
                "kind": "other",
                "description": "回访",
                "due_at": (clock.now() + timedelta(hours=1)).isoformat(),
            },
        ),
    ]
    for method, path, who, body in steps:
        await call(customers, method, path, who, body, expect=201 if method == "POST" else 200)
    clock.advance(timedelta(days=8))
    await customers.fire_due_timers()  # negotiation overdue, next action overdue, stale
    await call(customers, "POST", f"{url}/next-action/complete", REP)
    await call(customers, "PUT", f"{url}/tier", REP, {"tier": "C"})

    pool = customers.runtime.pool
    stored = await customers.runtime.store.read_stream(customer_stream(c["customer_id"]))
    folded = state.fold(published_events(stored))
    row = await pool.fetchrow(
        f"SELECT {read_model.COLUMNS} FROM customers WHERE customer_id = $1", c["customer_id"]
    )
    assert row is not None
    assert read_model.customer_state(row) == folded
    assert folded is not None
    assert folded.stale
    assert folded.negotiation is not None
    assert folded.negotiation.overdue_reported
    assert folded.next_action is not None
    assert folded.next_action.completed_at is not None
