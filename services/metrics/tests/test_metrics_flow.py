"""Events of every table through real NATS into the figures; redelivery changes none of them.

The history and its hand-computed figures are in ``march_history``.
"""

from __future__ import annotations

from typing import Any

import pytest
from nats.js import JetStreamContext

from contracts.collaboration import TicketSubmitted
from contracts.customers import DecisionStateChanged
from contracts.envelope import Envelope
from contracts.tasks import TaskPlanned
from salesops.clock import ManualClock
from salesops.testing.apps import RunningService
from salesops.testing.events import publish_envelope
from salesops.testing.waiting import eventually
from services.metrics.tests.march_history import (
    CHEN,
    DIRECTOR,
    LEAD,
    WANG,
    ZHANG,
    at,
    ev,
    march_history,
    publish_all,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def loaded(
    metrics: RunningService, js: JetStreamContext, namespace: str, clock: ManualClock
) -> list[Envelope]:
    clock.set(at(18))
    sent = await publish_all(js, namespace, march_history())

    async def all_in() -> bool:
        count = await metrics.runtime.pool.fetchval("SELECT count(*) FROM inbox")
        return bool(count == len(sent))

    await eventually(all_in)
    return sent


def values(body: dict[str, Any]) -> dict[str, str | None]:
    return {f["measure"]: f["value"] for f in body["figures"]}


async def test_the_three_indicators_come_from_the_events_of_all_three_tables(
    metrics: RunningService, loaded: list[Envelope]
) -> None:
    director = metrics.auth(DIRECTOR)
    hq = await metrics.client.get("/indicators?unit=hq&period=2026-03", headers=director)
    assert hq.status_code == 200, hq.text
    assert values(hq.json()) == {"penetration": "50.00", "trace": "60.00", "on_time": "50.00"}
    healths = {f["measure"]: f["health"] for f in hq.json()["figures"]}
    assert healths == {"penetration": "unhealthy", "trace": "unhealthy", "on_time": "unhealthy"}

    group = await metrics.client.get(
        "/indicators?unit=group-east-1&period=2026-03", headers=director
    )
    assert values(group.json())["penetration"] == "75.00"
    zhang = await metrics.client.get(f"/indicators?unit={ZHANG}&period=2026-03", headers=director)
    assert values(zhang.json()) == {"penetration": "85.71", "trace": "66.67", "on_time": "66.67"}
    chen = await metrics.client.get(f"/indicators?unit={CHEN}&period=2026-03", headers=director)
    trace = next(f for f in chen.json()["figures"] if f["measure"] == "trace")
    assert trace["value"] is None
    assert trace["health"] == "no_data"


async def test_redelivering_every_event_changes_no_figure(
    metrics: RunningService, loaded: list[Envelope], js: JetStreamContext, namespace: str
) -> None:
    director = metrics.auth(DIRECTOR)
    before = await metrics.client.get("/indicators?unit=hq&period=2026-03", headers=director)
    for envelope in loaded:  # each event stored a second time in its stream
        await publish_envelope(js, envelope, msg_id=f"again-{envelope.id}")
    # One new event per stream after the copies: once each is in, its stream's copies were seen.
    april = at(31)
    sentinels = [
        ev(DecisionStateChanged, customer_id="c1", changed_at=april),
        ev(TaskPlanned, task_id="t-april", customer_id="c1", rep_id=ZHANG, scheduled_at=april),
        ev(TicketSubmitted, ticket_id="k-april", customer_id="c1", submitted_at=april),
    ]
    await publish_all(js, namespace, sentinels)

    async def consumed_again() -> bool:
        count = await metrics.runtime.pool.fetchval("SELECT count(*) FROM inbox")
        return bool(count == len(loaded) + len(sentinels))

    await eventually(consumed_again)
    after = await metrics.client.get("/indicators?unit=hq&period=2026-03", headers=director)
    assert after.json() == before.json()


async def test_the_drop_in_trace_is_split_among_the_reps_of_the_group(
    metrics: RunningService, loaded: list[Envelope]
) -> None:
    lead = metrics.auth(LEAD)
    response = await metrics.client.get(
        "/causes?measure=trace&dimension=org_unit&unit=group-east-1&before=2026-02&after=2026-03",
        headers=lead,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["before_value"], body["after_value"], body["total_change_pct"]) == (
        "100.00",
        "60.00",
        "-40.00",
    )
    parts = {p["segment"]: p["change_pct"] for p in body["parts"]}
    assert parts == {ZHANG: "-20.00", WANG: "-20.00"}
    wang = next(p for p in body["parts"] if p["segment"] == WANG)
    records = await metrics.client.get(wang["records_after"], headers=lead)
    assert records.status_code == 200, records.text
    assert {
        (r["record_kind"], r["record_id"], r["numerator"]) for r in records.json()["records"]
    } == {
        ("follow_up", "fu-3", "1"),
        ("task", "t2", "0"),
    }


async def test_the_board_and_the_attention_list_show_what_is_late_and_who_is_flagged(
    metrics: RunningService, loaded: list[Envelope]
) -> None:
    director = metrics.auth(DIRECTOR)
    board = (await metrics.client.get("/sla-board", headers=director)).json()
    assert [(s["ticket_id"], s["stage"], s["overdue"]) for s in board] == [
        ("k2", "tech_answer", True)
    ]
    assert board[0]["customer_name"] == "宁波精密模具有限公司"
    attention = (await metrics.client.get("/attention?unit=hq", headers=director)).json()
    assert {(c["customer_id"], c["stale"], c["red_flagged"]) for c in attention} == {
        ("c2", True, False),
        ("c3", False, True),
    }


async def test_a_rep_sees_only_their_own_figures(
    metrics: RunningService, loaded: list[Envelope]
) -> None:
    rep = metrics.auth(ZHANG)
    own = await metrics.client.get("/indicators?period=2026-03", headers=rep)
    assert own.json()["node"]["id"] == ZHANG
    other = await metrics.client.get(f"/indicators?unit={WANG}&period=2026-03", headers=rep)
    assert other.status_code == 403
    group = await metrics.client.get("/indicators?unit=group-east-1", headers=rep)
    assert group.status_code == 403
    bad = await metrics.client.get("/indicators?period=2026-13", headers=rep)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "period"


async def test_activity_counts_follow_ups_concessions_speed_and_ratings(
    metrics: RunningService, loaded: list[Envelope]
) -> None:
    response = await metrics.client.get(
        "/activity?unit=hq&period=2026-03", headers=metrics.auth(DIRECTOR)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["a_tier_follow_ups_per_customer"]["value"] == "1.00"
    assert body["a_tier_follow_ups_per_customer"]["shape"] == "per_record"
    assert body["next_actions_on_time"]["value"] == "50.00"
    assert body["daily_report_validity"]["value"] == "50.00"
    assert body["support_answered_on_time"]["value"] == "50.00"
    assert body["concessions"] == {"exceeded": 3, "approved": 1, "rejected": 1, "pending": 1}
    assert body["sample_delivery"]["median_seconds"] == 36 * 3600  # 1.5 days
    assert body["tech_answer"] == {
        "count": 1,
        "mean_seconds": 72 * 60,
        "median_seconds": 72 * 60,
        "p90_seconds": 72 * 60,
    }
    assert {
        r["team_id"]: (r["mean_stars"], r["below_bar"]) for r in body["department_ratings"]
    } == {
        "logistics": ("2.00", 1),
        "tech-electrical": ("2.00", 1),
    }


async def test_the_health_dashboard_sets_collection_beside_its_natural_share(
    metrics: RunningService, loaded: list[Envelope]
) -> None:
    response = await metrics.client.get(
        "/health-dashboard?unit=hq&period=2026-03", headers=metrics.auth(DIRECTOR)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["collection_rate"]["value"] == "90.00"
    assert body["natural_collection_share"]["value"] == "66.67"
    assert body["payments_by_kind"] == {
        "natural": "300000",
        "rebate": "100000",
        "stock_push": "50000",
    }
    assert body["repurchase_cycle"]["mean_seconds"] == 45 * 86400
    assert body["industry_repurchase_cycle_seconds"] == 45 * 86400
    assert body["first_order_margin"]["value"] == "16.67"
    # Only 王芳's customer paid by rebate: her natural share is 0%, not "no data".
    wang = await metrics.client.get(
        f"/health-dashboard?unit={WANG}&period=2026-03", headers=metrics.auth(DIRECTOR)
    )
    assert wang.json()["natural_collection_share"]["value"] == "0.00"


async def test_drill_down_and_trend_give_each_child_and_each_period(
    metrics: RunningService, loaded: list[Envelope]
) -> None:
    director = metrics.auth(DIRECTOR)
    drill = await metrics.client.get(
        "/figures/penetration/drill-down?unit=group-east-1&period=2026-03", headers=director
    )
    assert drill.status_code == 200, drill.text
    lines = {line["node"]["id"]: line["figure"]["value"] for line in drill.json()["lines"]}
    assert lines == {
        "group-east-1": "75.00",
        ZHANG: "85.71",
        WANG: "60.00",  # 300k of 500k
        "rep-liu-yang": None,  # a target of 0: no data, not a division by zero
    }
    trend = await metrics.client.get(
        "/figures/trace/trend?unit=hq&kind=month&count=3", headers=director
    )
    assert trend.status_code == 200, trend.text
    points = [(p["period"], p["value"]) for p in trend.json()["points"]]
    assert points == [("2026-01", None), ("2026-02", "100.00"), ("2026-03", "60.00")]


async def test_the_penetration_change_splits_into_tiers_and_the_target(
    metrics: RunningService, loaded: list[Envelope]
) -> None:
    response = await metrics.client.get(
        "/causes?measure=penetration&dimension=tier&unit=hq&before=2026-02&after=2026-03",
        headers=metrics.auth(DIRECTOR),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # February had no target: nothing to compare with.
    assert body["before_value"] is None
    assert body["total_change_pct"] is None
    assert {p["segment"] for p in body["parts"]} == {"A", "B", "target"}


async def test_the_api_is_described_for_bi_tools(metrics: RunningService) -> None:
    schema = (await metrics.client.get("/openapi.json")).json()
    for path in ("/indicators", "/figures/{measure}", "/causes", "/records", "/health-dashboard"):
        assert path in schema["paths"], path


async def test_the_measures_say_what_each_splits_by_and_names_come_by_id(
    metrics: RunningService,
) -> None:
    director = metrics.auth(DIRECTOR)
    measures = {
        m["name"]: m for m in (await metrics.client.get("/measures", headers=director)).json()
    }
    assert measures["penetration"]["dimensions"] == ["org_unit", "tier"]
    assert "department" in measures["on_time"]["dimensions"]
    assert measures["trace"]["indicator"] == "trace"
    names = (await metrics.client.get("/names", headers=director)).json()
    assert names["people"]["te-luo-bin"] == "罗斌"
    assert names["teams"]["tech-electrical"] == "电气与认证组"
