"""The rules of table 1, at their boundaries, without a database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import BaseModel

from contracts.customer_actions import (
    CustomerWentStale,
    NegotiationJoinConfirmed,
    NegotiationJoinOverdue,
    NegotiationJoinRequested,
    NextActionCompleted,
    NextActionKind,
    NextActionOverdue,
)
from contracts.customers import (
    CustomerTier,
    DecisionState,
    DecisionStateChanged,
    FollowUpKind,
    FollowUpLogged,
)
from salesops.policy import Policy
from salesops.problems import DomainError, Forbidden, StateConflict
from services.customers import customer as rules
from services.customers import customer_state as state
from services.customers import obligations
from services.customers.customer_state import Customer

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)
THRESHOLDS = Policy().thresholds
WINDOW = Policy().sla.negotiation_join


def registered(**changes: object) -> Customer:
    events = rules.register_customer(
        customer_id="cus-1",
        name="宁波精密模具",
        tier=CustomerTier.A,
        owner_id="rep-1",
        org_unit_id="group-1",
        estimated_contribution=Decimal("1200000.50"),
        external_key=None,
        actor_id="rep-1",
        now=T0,
    )
    customer = state.fold(events)
    assert customer is not None
    return replace(customer, **changes)  # type: ignore[arg-type]


def then(customer: Customer, events: Sequence[BaseModel]) -> Customer:
    """The customer after more events."""
    for event in events:
        customer = state._evolve(customer, event)
    return customer


def follow_up(customer: Customer, contacted_at: datetime, now: datetime) -> list[BaseModel]:
    return list(
        rules.log_follow_up(
            customer,
            follow_up_id="fu",
            kind=FollowUpKind.VISIT,
            contacted_at=contacted_at,
            notes="到访",
            competitor_notes=None,
            decision_chain_change=None,
            actor_id="rep-1",
            now=now,
        )
    )


# -- registration -----------------------------------------------------------------------


def test_a_name_of_200_chinese_characters_is_accepted_and_201_refused() -> None:
    ok = rules.register_customer(
        customer_id="c",
        name="张" * 200,
        tier=CustomerTier.B,
        owner_id="r",
        org_unit_id="g",
        estimated_contribution=Decimal(0),
        external_key=None,
        actor_id="r",
        now=T0,
    )
    assert ok
    with pytest.raises(DomainError, match="201 characters") as too_long:
        rules.register_customer(
            customer_id="c",
            name="张" * 201,
            tier=CustomerTier.B,
            owner_id="r",
            org_unit_id="g",
            estimated_contribution=Decimal(0),
            external_key=None,
            actor_id="r",
            now=T0,
        )
    assert too_long.value.field == "name"


def test_a_negative_contribution_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        rules.register_customer(
            customer_id="c",
            name="x",
            tier=CustomerTier.B,
            owner_id="r",
            org_unit_id="g",
            estimated_contribution=Decimal("-0.01"),
            external_key=None,
            actor_id="r",
            now=T0,
        )
    assert refused.value.field == "estimated_contribution"


# -- follow-ups and last contact ----------------------------------------------------------


def test_last_contact_is_the_newest_follow_up_even_when_an_older_one_arrives_later() -> None:
    c = registered()
    c = then(c, follow_up(c, T0 + 5 * H, now=T0 + 6 * H))
    late_old = follow_up(c, T0 + 2 * H, now=T0 + 7 * H)
    assert isinstance(late_old[0], FollowUpLogged)
    assert late_old[0].last_contact_at == T0 + 5 * H
    assert then(c, late_old).last_contact_at == T0 + 5 * H


def test_a_follow_up_in_the_future_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        follow_up(registered(), T0 + H + timedelta(seconds=1), now=T0 + H)
    assert refused.value.field == "contacted_at"


# -- stale ----------------------------------------------------------------------------------


def test_exactly_seven_days_without_contact_is_not_stale_a_moment_later_it_is() -> None:
    c = registered(last_contact_at=T0)
    assert obligations.went_stale(c, thresholds=THRESHOLDS, now=T0 + timedelta(days=7)) == []
    events = obligations.went_stale(
        c, thresholds=THRESHOLDS, now=T0 + timedelta(days=7, microseconds=1)
    )
    assert [type(e) for e in events] == [CustomerWentStale]


def test_the_stale_check_runs_at_the_first_stale_instant() -> None:
    due = obligations.stale_check_due(T0, THRESHOLDS)
    assert due == T0 + timedelta(days=7, microseconds=1)
    assert THRESHOLDS.is_stale(T0, due)


def test_a_customer_never_contacted_goes_stale_from_its_registration() -> None:
    c = registered()
    assert obligations.went_stale(c, thresholds=THRESHOLDS, now=T0 + timedelta(days=8))


def test_stale_is_reported_once_and_cleared_by_a_newer_follow_up() -> None:
    c = registered(last_contact_at=T0)
    now = T0 + timedelta(days=8)
    c = then(c, obligations.went_stale(c, thresholds=THRESHOLDS, now=now))
    assert c.stale
    assert obligations.went_stale(c, thresholds=THRESHOLDS, now=now + H) == []
    still = then(c, follow_up(c, T0 - H, now=now))  # an even older visit, logged late
    assert still.stale
    assert not then(c, follow_up(c, now, now=now)).stale


# -- decision state and the negotiation join --------------------------------------------------


def confirm_intent(c: Customer, manager: str | None = "sm-1") -> list[BaseModel]:
    return list(
        rules.change_decision_state(
            c,
            DecisionState.INTENT_CONFIRMED,
            manager_id=manager,
            request_id="nj-1",
            join_window=WINDOW,
            actor_id="rep-1",
            now=T0,
        )
    )


def test_intent_confirmed_asks_the_manager_to_join_within_24_hours() -> None:
    changed, requested = confirm_intent(registered())
    assert isinstance(changed, DecisionStateChanged)
    assert (changed.from_state, changed.to_state) == (None, DecisionState.INTENT_CONFIRMED)
    assert isinstance(requested, NegotiationJoinRequested)
    assert (requested.manager_id, requested.due_at) == ("sm-1", T0 + 24 * H)


def test_other_states_ask_nobody_and_the_same_state_again_changes_nothing() -> None:
    c = registered(decision_state=DecisionState.BUDGET_PENDING)
    moved = rules.change_decision_state(
        c,
        DecisionState.NEEDS_TECH_VALIDATION,
        manager_id="sm-1",
        request_id="x",
        join_window=WINDOW,
        actor_id="r",
        now=T0,
    )
    assert [type(e) for e in moved] == [DecisionStateChanged]
    same = rules.change_decision_state(
        c,
        DecisionState.BUDGET_PENDING,
        manager_id="sm-1",
        request_id="x",
        join_window=WINDOW,
        actor_id="r",
        now=T0,
    )
    assert same == []


def test_only_the_named_manager_may_confirm() -> None:
    c = then(registered(), confirm_intent(registered()))
    with pytest.raises(Forbidden, match="sm-1"):
        obligations.confirm_negotiation_join(c, actor_id="sm-2", now=T0 + H)


def test_a_confirmation_at_exactly_24_hours_is_on_time_and_nothing_is_overdue() -> None:
    c = then(registered(), confirm_intent(registered()))
    (confirmed,) = obligations.confirm_negotiation_join(c, actor_id="sm-1", now=T0 + 24 * H)
    assert isinstance(confirmed, NegotiationJoinConfirmed)
    assert confirmed.on_time
    c = then(c, [confirmed])
    assert (
        obligations.negotiation_join_overdue(c, "nj-1", escalate_to="sd-1", now=T0 + 25 * H) == []
    )
    with pytest.raises(StateConflict):
        obligations.confirm_negotiation_join(c, actor_id="sm-1", now=T0 + 25 * H)


def test_an_unconfirmed_request_escalates_once_just_after_24_hours() -> None:
    c = then(registered(), confirm_intent(registered()))
    assert (
        obligations.negotiation_join_overdue(c, "nj-1", escalate_to="sd-1", now=T0 + 24 * H) == []
    )
    (overdue,) = obligations.negotiation_join_overdue(
        c, "nj-1", escalate_to="sd-1", now=T0 + 24 * H + timedelta(microseconds=1)
    )
    assert isinstance(overdue, NegotiationJoinOverdue)
    assert overdue.escalated_to_id == "sd-1"
    again = obligations.negotiation_join_overdue(
        then(c, [overdue]), "nj-1", escalate_to="sd-1", now=T0 + 30 * H
    )
    assert again == []


# -- next actions ---------------------------------------------------------------------------


def committed(due: datetime) -> Customer:
    c = registered()
    return then(
        c,
        obligations.commit_next_action(
            c,
            NextActionKind.SEND_PARAMETER_COMPARISON,
            "发参数对比表",
            due,
            actor_id="rep-1",
            now=T0,
        ),
    )


def test_a_next_action_must_be_due_in_the_future() -> None:
    with pytest.raises(DomainError) as refused:
        committed(T0)
    assert refused.value.field == "due_at"


def test_completion_at_the_due_time_is_on_time_and_a_moment_later_is_late() -> None:
    c = committed(T0 + H)
    (on_time,) = obligations.complete_next_action(c, now=T0 + H)
    (late,) = obligations.complete_next_action(c, now=T0 + H + timedelta(microseconds=1))
    assert isinstance(on_time, NextActionCompleted)
    assert isinstance(late, NextActionCompleted)
    assert (on_time.on_time, late.on_time) == (True, False)


def test_an_open_next_action_is_overdue_once_after_its_due_time() -> None:
    c = committed(T0 + H)
    assert obligations.next_action_overdue(c, T0 + H, now=T0 + H) == []
    (overdue,) = obligations.next_action_overdue(c, T0 + H, now=T0 + 2 * H)
    assert isinstance(overdue, NextActionOverdue)
    assert obligations.next_action_overdue(then(c, [overdue]), T0 + H, now=T0 + 3 * H) == []


def test_a_completed_or_replaced_next_action_is_never_overdue() -> None:
    c = committed(T0 + H)
    done = then(c, obligations.complete_next_action(c, now=T0 + H / 2))
    assert obligations.next_action_overdue(done, T0 + H, now=T0 + 2 * H) == []
    replaced = then(
        c,
        obligations.commit_next_action(
            c, NextActionKind.OTHER, "改约", T0 + 5 * H, actor_id="rep-1", now=T0
        ),
    )
    assert obligations.next_action_overdue(replaced, T0 + H, now=T0 + 2 * H) == []


def test_completing_without_an_open_next_action_is_a_conflict() -> None:
    with pytest.raises(StateConflict):
        obligations.complete_next_action(registered(), now=T0)
