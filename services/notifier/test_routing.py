"""Routing rules on the sample company (deploy/org.yaml)."""

from pathlib import Path
from typing import Any, TypeVar

import pytest

from contracts.base import IntegrationEvent
from contracts.collaboration import (
    DepartmentQualityAlert,
    TicketDispatched,
    TicketEscalated,
    TicketTimedOut,
)
from contracts.customer_actions import (
    CustomerWentStale,
    NegotiationJoinOverdue,
    NegotiationJoinRequested,
    NextActionsNotUpdated,
)
from contracts.customer_reports import ProgressReported, SupportAnswerOverdue
from contracts.customers import CustomerRegistered, DecisionStateChanged
from contracts.tasks import ConcessionExceeded, DailyTodoCardIssued, TasksOverdue
from salesops.orgdir import OrgDirectory, load_org_directory
from services.notifier.routing import (
    Route,
    RoutingRules,
    RoutingRulesError,
    load_routing_rules,
    route,
)

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = RoutingRules.defaults()
E = TypeVar("E", bound=IntegrationEvent)


@pytest.fixture(scope="module")
def org() -> OrgDirectory:
    return load_org_directory(ROOT / "deploy" / "org.yaml")


def example(cls: type[E], **update: Any) -> E:
    return cls.examples()[0].model_copy(update=update)


def who(routes: list[Route]) -> list[tuple[str, str, bool]]:
    return [(r.person_id, r.channel, r.urgent) for r in routes]


def rules(*rule: dict[str, Any]) -> RoutingRules:
    return RoutingRules.from_mapping({"rules": list(rule)})


# --- the default rules --------------------------------------------------------------------


def test_decision_state_change_goes_to_the_owners_sales_manager(org: OrgDirectory) -> None:
    event = example(DecisionStateChanged, owner_id="rep-zhang-wei")
    assert who(route(event, DEFAULTS, org)) == [("sm-qian-wenbo", "dingtalk", False)]


def test_sales_manager_falls_back_to_the_nearest_sales_director(org: OrgDirectory) -> None:
    # A customer owned by a sales manager: no sales manager above, so the director.
    event = example(DecisionStateChanged, owner_id="sm-sun-xiaoyan")
    assert who(route(event, DEFAULTS, org)) == [("sd-zhao-guoqiang", "dingtalk", False)]


def test_negotiation_join_request_goes_to_the_named_manager(org: OrgDirectory) -> None:
    event = example(NegotiationJoinRequested)
    assert who(route(event, DEFAULTS, org)) == [("sm-qian-wenbo", "dingtalk", False)]


def test_negotiation_join_overdue_goes_to_the_escalated_person_urgently(
    org: OrgDirectory,
) -> None:
    event = example(NegotiationJoinOverdue)
    assert who(route(event, DEFAULTS, org)) == [("sd-zhao-guoqiang", "dingtalk", True)]


def test_next_actions_not_updated_copies_the_supervisor_and_warns_the_rep(
    org: OrgDirectory,
) -> None:
    event = example(NextActionsNotUpdated, rep_id="rep-liu-yang")
    assert who(route(event, DEFAULTS, org)) == [
        ("gl-li-na", "dingtalk", False),
        ("rep-liu-yang", "wecom", False),
    ]


def test_concession_exceeded_goes_to_the_director_and_finance_risk(org: OrgDirectory) -> None:
    event = example(ConcessionExceeded, rep_id="rep-zhang-wei")
    assert who(route(event, DEFAULTS, org)) == [
        ("sd-zhao-guoqiang", "dingtalk", True),
        ("fr-sun-li", "email", True),
    ]


def test_daily_todo_card_goes_to_the_rep(org: OrgDirectory) -> None:
    event = example(DailyTodoCardIssued, rep_id="rep-lin-xiaowen")
    assert who(route(event, DEFAULTS, org)) == [("rep-lin-xiaowen", "feishu", False)]


def test_tasks_overdue_go_to_the_reps_supervisor(org: OrgDirectory) -> None:
    event = example(TasksOverdue, rep_id="rep-chen-jing")
    assert who(route(event, DEFAULTS, org)) == [("gl-zhou-jianhua", "wecom", False)]


def test_ticket_dispatched_goes_to_the_stage_owner(org: OrgDirectory) -> None:
    event = example(TicketDispatched)
    assert who(route(event, DEFAULTS, org)) == [("te-luo-bin", "feishu", False)]


def test_ticket_timed_out_goes_to_the_stage_owner_and_the_next_one_up(
    org: OrgDirectory,
) -> None:
    event = example(
        TicketTimedOut,
        owner_id="te-luo-bin",
        escalation_level=1,
        escalated_to_id="tl-gao-jianjun",
    )
    assert who(route(event, DEFAULTS, org)) == [
        ("te-luo-bin", "feishu", True),
        ("tl-gao-jianjun", "feishu", True),
    ]


def test_ticket_timed_out_at_the_top_of_the_chain_reaches_the_owner_only(
    org: OrgDirectory,
) -> None:
    event = example(TicketTimedOut, owner_id="te-luo-bin", escalated_to_id=None)
    assert who(route(event, DEFAULTS, org)) == [("te-luo-bin", "feishu", True)]


def test_ticket_escalated_goes_to_the_previous_and_the_new_owner(org: OrgDirectory) -> None:
    event = example(TicketEscalated)
    assert who(route(event, DEFAULTS, org)) == [
        ("te-luo-bin", "feishu", True),
        ("tl-gao-jianjun", "feishu", True),
    ]


def test_department_quality_alert_goes_to_the_head_by_email(org: OrgDirectory) -> None:
    event = example(DepartmentQualityAlert)  # head td-zheng-lixin prefers Feishu
    assert who(route(event, DEFAULTS, org)) == [("td-zheng-lixin", "email", False)]


def test_support_answer_overdue_goes_to_the_escalated_person_urgently(
    org: OrgDirectory,
) -> None:
    event = example(SupportAnswerOverdue)
    assert who(route(event, DEFAULTS, org)) == [("sm-qian-wenbo", "dingtalk", True)]


def test_progress_report_goes_to_the_supervisor(org: OrgDirectory) -> None:
    event = example(ProgressReported)
    assert who(route(event, DEFAULTS, org)) == [("gl-li-na", "dingtalk", False)]


def test_stale_customer_warns_its_owner(org: OrgDirectory) -> None:
    event = example(CustomerWentStale, owner_id="rep-huang-lei")
    assert who(route(event, DEFAULTS, org)) == [("rep-huang-lei", "wecom", False)]


def test_events_without_a_rule_go_nowhere(org: OrgDirectory) -> None:
    assert route(example(CustomerRegistered, owner_id="rep-zhang-wei"), DEFAULTS, org) == []


def test_people_unknown_to_the_directory_are_skipped(org: OrgDirectory) -> None:
    event = example(DecisionStateChanged, owner_id="p-nobody")
    assert route(event, DEFAULTS, org) == []
    timed_out = example(TicketTimedOut, owner_id="p-gone", escalated_to_id="tl-gao-jianjun")
    assert who(route(timed_out, DEFAULTS, org)) == [("tl-gao-jianjun", "feishu", True)]


def test_manager_of_manager_climbs_two_steps(org: OrgDirectory) -> None:
    custom = rules({"event": "DecisionStateChanged", "to": ["manager_of_manager"]})
    event = example(DecisionStateChanged, owner_id="rep-zhang-wei")
    assert who(route(event, custom, org)) == [("sm-qian-wenbo", "dingtalk", False)]


# --- overrides, de-duplication ------------------------------------------------------------


def test_channel_override_replaces_the_preferred_channel(org: OrgDirectory) -> None:
    custom = rules({"event": "DecisionStateChanged", "to": ["sales_manager"], "channel": "email"})
    event = example(DecisionStateChanged, owner_id="rep-zhang-wei")
    assert who(route(event, custom, org)) == [("sm-qian-wenbo", "email", False)]


def test_channel_override_without_an_address_falls_back_to_the_preferred(
    org: OrgDirectory,
) -> None:
    custom = rules({"event": "DecisionStateChanged", "to": ["sales_manager"], "channel": "feishu"})
    event = example(DecisionStateChanged, owner_id="rep-zhang-wei")
    assert who(route(event, custom, org)) == [("sm-qian-wenbo", "dingtalk", False)]


def test_one_person_on_one_channel_is_routed_once(org: OrgDirectory) -> None:
    # named (supervisor_id) and supervisor (directory) are both gl-li-na.
    custom = rules({"event": "ProgressReported", "to": ["named", "supervisor", "named"]})
    assert who(route(example(ProgressReported), custom, org)) == [("gl-li-na", "dingtalk", False)]


def test_ticket_escalated_to_the_same_person_is_routed_once(org: OrgDirectory) -> None:
    event = example(TicketEscalated, to_owner_id="te-luo-bin")
    assert who(route(event, DEFAULTS, org)) == [("te-luo-bin", "feishu", True)]


# --- loading ------------------------------------------------------------------------------


def test_the_deployed_file_restates_the_defaults() -> None:
    assert load_routing_rules(ROOT / "deploy" / "notifications.yaml") == DEFAULTS


def test_defaults_cover_every_rule_the_issue_lists() -> None:
    assert {rule.event for rule in DEFAULTS.rules} == {
        "DecisionStateChanged",
        "NegotiationJoinRequested",
        "NegotiationJoinOverdue",
        "NextActionsNotUpdated",
        "ConcessionExceeded",
        "DailyTodoCardIssued",
        "TasksOverdue",
        "TicketDispatched",
        "TicketTimedOut",
        "TicketEscalated",
        "DepartmentQualityAlert",
        "SupportAnswerOverdue",
        "ProgressReported",
        "CustomerWentStale",
    }


def test_unknown_event_names_are_refused_at_load_naming_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "notifications.yaml"
    path.write_text(
        "rules:\n"
        "  - {event: DecisionStateChanged, to: [sales_manager]}\n"
        "  - {event: DecisionStateChnaged, to: [sales_manager]}\n",
        encoding="utf-8",
    )
    with pytest.raises(RoutingRulesError) as caught:
        load_routing_rules(path)
    message = str(caught.value)
    assert str(path) in message
    assert "rules[1] (DecisionStateChnaged)" in message
    assert "unknown event type 'DecisionStateChnaged'" in message
    assert "known: " in message
    assert "TicketTimedOut" in message  # the known names are listed


def test_unknown_recipient_or_channel_is_refused_naming_the_rule() -> None:
    with pytest.raises(RoutingRulesError, match=r"rules\[0\] \(TasksOverdue\): to\.0"):
        rules({"event": "TasksOverdue", "to": ["boss"]})
    with pytest.raises(RoutingRulesError, match=r"rules\[0\] \(TasksOverdue\): channel"):
        rules({"event": "TasksOverdue", "to": ["supervisor"], "channel": "fax"})


def test_a_recipient_the_event_cannot_name_is_refused() -> None:
    with pytest.raises(RoutingRulesError, match=r"\(DecisionStateChanged\).*'escalated_to'"):
        rules({"event": "DecisionStateChanged", "to": ["escalated_to"]})


def test_two_rules_for_one_event_are_refused() -> None:
    with pytest.raises(RoutingRulesError, match="'TasksOverdue' has more than one rule"):
        rules(
            {"event": "TasksOverdue", "to": ["supervisor"]},
            {"event": "TasksOverdue", "to": ["owner"]},
        )


def test_a_rule_needs_at_least_one_recipient() -> None:
    with pytest.raises(RoutingRulesError, match=r"rules\[0\] \(TasksOverdue\): to"):
        rules({"event": "TasksOverdue", "to": []})
