"""The guards of the ticket stage machine, without a database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from contracts.collaboration import (
    InfoSupplied,
    TicketAnswered,
    TicketEscalated,
    TicketTimedOut,
)
from salesops.problems import DomainError, Forbidden, StateConflict
from services.collaboration import ticket as rules
from services.collaboration.sla import BusinessCalendar
from services.collaboration.ticket import SlaRule, Ticket

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
TECH = SlaRule(timedelta(hours=2))
STOCK = SlaRule(timedelta(hours=4))
RECEIPT = SlaRule(timedelta(hours=1))
ELEC, STRUCT = "tech-electrical", "tech-structural"
ROUTING = {
    ELEC: (["ce_certification_report"], "te-1"),
    STRUCT: (["installation_drawing_3d"], "te-2"),
}
ANYONE = frozenset({"te-1", "te-2", "lg-1", "rep-1"})
LOGISTICS = ("logistics", "lg-1")


def submitted(routing: dict[str, tuple[list[str], str]] = ROUTING) -> list[BaseModel]:
    return rules.submit_ticket(
        ticket_id="t-1",
        kind="sample_request",
        customer_id="c-1",
        requester_id="rep-1",
        product="HY-75",
        quantity=1,
        note=None,
        routing=routing,
        tech=TECH,
        now=T0,
    )


def state(*events: Sequence[BaseModel]) -> Ticket:
    ticket = rules.fold([e for batch in events for e in batch])
    assert ticket is not None
    return ticket


def answer(t: Ticket, team: str, at: datetime = T0) -> list[BaseModel]:
    return rules.answer_provided(
        t, team, actor_id="te-1", allowed=ANYONE, logistics=LOGISTICS, stocking=STOCK, now=at
    )


def test_a_ticket_needing_two_groups_is_complete_only_when_both_answered() -> None:
    first = answer(state(submitted()), ELEC)
    assert [type(e).__name__ for e in first] == ["TicketAnswered"]
    second = answer(state(submitted(), first), STRUCT)
    assert [type(e).__name__ for e in second] == ["TicketAnswered", "DocumentsCompleted"]


def test_stocking_is_refused_until_the_documents_are_complete_naming_who_is_missing() -> None:
    t = state(submitted(), answer(state(submitted()), ELEC))
    with pytest.raises(StateConflict, match=STRUCT):
        rules.start_stocking(t, actor_id="lg-1", allowed=ANYONE, now=T0)


def test_an_answer_at_1_59_59_is_on_time_and_2_00_01_is_late() -> None:
    t = state(submitted())
    (early,) = answer(t, ELEC, T0 + timedelta(hours=1, minutes=59, seconds=59))
    (late,) = answer(t, ELEC, T0 + timedelta(hours=2, seconds=1))
    assert isinstance(early, TicketAnswered)
    assert isinstance(late, TicketAnswered)
    assert (early.on_time, late.on_time) == (True, False)


def test_needs_info_requires_the_missing_items() -> None:
    with pytest.raises(DomainError) as refused:
        rules.request_info(
            state(submitted()), ELEC, [" "], actor_id="te-1", allowed=ANYONE, tech=TECH, now=T0
        )
    assert refused.value.field == "missing_items"


def test_the_tech_clock_pauses_for_sales_and_resumes_with_the_time_left() -> None:
    t = state(submitted())
    asked = rules.request_info(
        t,
        ELEC,
        ["电压"],
        actor_id="te-1",
        allowed=ANYONE,
        tech=TECH,
        now=T0 + timedelta(hours=1, minutes=30),
    )
    paused = state(submitted(), asked)
    assert paused.stages["tech_answer:tech-electrical"].due_at is None
    with pytest.raises(StateConflict, match="waiting for sales"):
        answer(paused, ELEC)
    resumed_at = T0 + timedelta(hours=9)
    (supplied,) = rules.supply_info(
        paused, ELEC, "380V", actor_id="rep-1", tech=TECH, now=resumed_at
    )
    assert isinstance(supplied, InfoSupplied)
    assert supplied.due_at == resumed_at + timedelta(minutes=30)


def test_only_the_requester_supplies_info() -> None:
    asked = rules.request_info(
        state(submitted()), ELEC, ["电压"], actor_id="te-1", allowed=ANYONE, tech=TECH, now=T0
    )
    with pytest.raises(Forbidden):
        rules.supply_info(state(submitted(), asked), ELEC, "x", actor_id="rep-2", tech=TECH, now=T0)


def test_someone_outside_the_owning_role_gets_forbidden() -> None:
    with pytest.raises(Forbidden):
        rules.answer_provided(
            state(submitted()),
            ELEC,
            actor_id="lg-1",
            allowed=frozenset({"te-1"}),
            logistics=LOGISTICS,
            stocking=STOCK,
            now=T0,
        )


def test_shipping_before_stocking_and_rating_before_receipt_are_refused() -> None:
    t = state(submitted())
    with pytest.raises(StateConflict):
        rules.ship(t, None, actor_id="lg-1", allowed=ANYONE, receipt=RECEIPT, now=T0)
    with pytest.raises(StateConflict):
        rules.rate(t, 5, None, ["logistics"], actor_id="rep-1", now=T0)


def test_a_stage_times_out_once_per_window_and_climbs_the_chain() -> None:
    history = submitted({ELEC: (["ce_certification_report"], "te-1")})
    key = "tech_answer:tech-electrical"
    chain = ["te-1", "tl-1", "td-1"]
    t = state(history)
    assert rules.stage_timed_out(t, key, level=1, chain=chain, rule=TECH, now=T0 + TECH.limit) == []

    seen = []
    for level in (1, 2, 3, 4):
        due = t.stages[key].due_at
        assert due is not None
        events = rules.stage_timed_out(
            t, key, level=level, chain=chain, rule=TECH, now=due + timedelta(microseconds=1)
        )
        timed_out = events[0]
        assert isinstance(timed_out, TicketTimedOut)
        assert timed_out.next_due_at == due + TECH.limit
        seen.append((timed_out.owner_id, timed_out.escalated_to_id, [type(e) for e in events[1:]]))
        history = [*history, *events]
        t = state(history)
        # The same window never reports twice.
        assert (
            rules.stage_timed_out(
                t, key, level=level, chain=chain, rule=TECH, now=due + timedelta(hours=1)
            )
            == []
        )

    assert seen == [
        ("te-1", "tl-1", [TicketEscalated]),
        ("tl-1", "td-1", [TicketEscalated]),
        ("td-1", None, []),  # past the end of the chain: still reported, not dropped
        ("td-1", None, []),
    ]


def test_business_hours_keep_a_friday_evening_ticket_on_time_over_the_weekend() -> None:
    calendar = BusinessCalendar.model_validate(
        {"hours": ["09:00-18:00"], "timezone": "Asia/Shanghai"}
    )
    tech = SlaRule(timedelta(hours=2), calendar)
    friday_1750 = datetime(2026, 3, 6, 9, 50, tzinfo=UTC)
    events = rules.submit_ticket(
        ticket_id="t",
        kind="sample_request",
        customer_id="c",
        requester_id="r",
        product="p",
        quantity=1,
        note=None,
        routing={ELEC: (["ce_certification_report"], "te-1")},
        tech=tech,
        now=friday_1750,
    )
    t = state(events)
    due = t.stages["tech_answer:tech-electrical"].due_at
    assert due == datetime(2026, 3, 9, 2, 50, tzinfo=UTC)  # Monday 10:50 in Shanghai
    saturday = datetime(2026, 3, 7, 4, 0, tzinfo=UTC)
    assert (
        rules.stage_timed_out(
            t, "tech_answer:tech-electrical", level=1, chain=["te-1"], rule=tech, now=saturday
        )
        == []
    )
