"""The planned quarter: deterministic, in time order, with the promised shares, and made of
requests the services accept (checked with the services' own request models and rules)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from salesops.demo import Action, QuarterPlan, Records, generate_company, plan_quarter
from salesops.demo.commands import SETUP_STORY
from salesops.demo.player import finance_event, import_csv, request_for
from salesops.demo.quarter import TIMEZONE, is_workday, quarter_days
from salesops.orgdir import Role
from salesops.policy import Thresholds
from services.collaboration.http import (
    AnswerRequest,
    InfoRequest,
    RatingRequest,
    ShipRequest,
    SubmitTicketRequest,
)
from services.customers.http import ChangeDecisionStateRequest, FollowUpRequest, NextActionRequest
from services.customers.http_reports import (
    AllocateTargetRequest,
    ProgressReportRequest,
    SupportAnswerRequest,
)
from services.customers.importing import parse_customer_import
from services.tasks.http import DecisionRequest, PlanTaskRequest


@pytest.fixture(scope="module")
def month() -> QuarterPlan:
    """The full company's first four weeks."""
    return plan_quarter(generate_company(137), days=28)


def _fingerprint(plan: QuarterPlan) -> list[tuple[Any, ...]]:
    return [(c.at, c.actor, c.action, c.story, repr(c.params), c.expect) for c in plan.commands]


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    company = generate_company(137)
    first = plan_quarter(company, days=6)
    assert _fingerprint(first) == _fingerprint(plan_quarter(company, days=6))
    other = plan_quarter(company, seed=138, days=6)
    assert _fingerprint(other) != _fingerprint(first)
    assert [c.name for c in other.customers] != [c.name for c in first.customers]


def test_the_quarter_has_about_90_distributors_and_thousands_of_end_customers(
    month: QuarterPlan,
) -> None:
    customers = month.customers
    assert sum(c.distributor for c in customers) == 89
    assert sum(not c.distributor for c in customers) == 2400
    assert len({c.external_key for c in customers}) == len({c.name for c in customers}) == 2489
    tiers = Counter(c.tier for c in customers if not c.distributor)
    assert tiers["C"] > tiers["B"] > tiers["A"] > 0
    reps = set(month.company.reps)
    assert {c.owner for c in customers} == reps  # everyone has a pool
    assert all(month.company.group_of(c.owner).id == c.org_unit for c in customers)


def test_targets_add_up_exactly_and_the_customer_pools_nearly_cover_them(
    month: QuarterPlan,
) -> None:
    company, targets = month.company, month.targets
    for group in company.groups:
        assert targets[group.id] == sum(targets[r] for r in group.reps)
    for region in company.regions:
        assert targets[region.id] == sum(targets[g.id] for g in region.groups)
    assert targets["hq"] == sum(targets[r.id] for r in company.regions)
    pools: Counter[str] = Counter()
    for c in month.customers:
        pools[c.owner] += int(c.estimated_contribution)
    penetration = Decimal(sum(pools.values())) / targets["hq"] * 100
    assert 85 < penetration < 105, penetration  # around the 95% the policy calls healthy
    covered = [Decimal(pools[r]) / targets[r] for r in company.reps]
    assert min(covered) < Decimal("0.8")  # stretched targets, with their reason
    assert max(covered) > Decimal("1.05")
    allocations = [c for c in month.commands if c.action is Action.ALLOCATE_TARGET]
    assert len(allocations) == 1 + 6 + 16
    assert all(c.params["rationale"] for c in allocations)


def test_commands_come_in_time_order_from_the_right_people(month: QuarterPlan) -> None:
    commands = month.commands
    assert [c.sort_key for c in commands] == sorted(c.sort_key for c in commands)
    directory = month.company.directory
    setup = [c for c in commands if c.story == SETUP_STORY]
    assert all(c.at == month.start for c in setup)
    assert (month.start.astimezone(TIMEZONE).hour, month.start.minute) == (7, 30)
    roles = {
        Action.LOG_FOLLOW_UP: Role.SALES_REP,
        Action.SUBMIT_TASK: Role.SALES_REP,
        Action.SUBMIT_TICKET: Role.SALES_REP,
        Action.DECIDE_CONCESSION: Role.SALES_DIRECTOR,
        Action.CONFIRM_NEGOTIATION_JOIN: Role.SALES_MANAGER,
        Action.IMPORT_CUSTOMERS: Role.SALES_MANAGER,
    }
    for command in commands:
        if command.action in roles:
            assert directory.person(command.actor).has_role(roles[command.action]), command
    # A rep's customers only; the manager who joins is the owner's sales manager.
    owners = {c.external_key: c.owner for c in month.customers}
    for command in commands:
        if command.action is Action.LOG_FOLLOW_UP:
            assert owners[command.params["customer"]] == command.actor
        if command.action is Action.CONFIRM_NEGOTIATION_JOIN:
            owner = owners[command.params["customer"]]
            manager = directory.first_with_role_above(owner, Role.SALES_MANAGER)
            assert manager is not None
            assert manager.id == command.actor
    # Sales work happens on working days (timers and the ERP know no weekend).
    work = [c for c in commands if c.actor != "erp" and c.story != SETUP_STORY]
    assert all(is_workday(c.at.astimezone(TIMEZONE).date()) for c in work)


def test_each_story_creates_its_record_first(month: QuarterPlan) -> None:
    first: dict[str, Action] = {}
    for command in month.commands:
        first.setdefault(command.story, command.action)
    for story, action in first.items():
        kind = story.split(":")[0]
        expected = {
            "task": Action.PLAN_TASK,
            "ticket": Action.SUBMIT_TICKET,
            "report": Action.FILE_PROGRESS_REPORT,
        }
        if kind in expected:
            assert action is expected[kind], story


def test_the_plan_has_the_promised_shares(month: QuarterPlan) -> None:
    s = month.summary()
    assert s["people"] == 137
    # Some quotes concede more than 12% and wait for the director, who decides both ways.
    assert 0.05 < s["quotes_over_threshold"] / s["quotes"] < 0.25
    decisions = s["concession_decisions"]
    assert decisions["approve"] > 0
    assert decisions["reject"] > 0
    assert sum(decisions.values()) == s["quotes_over_threshold"]
    # Most follow-ups record competitor news or a decision-chain change; not all.
    assert 0.8 < s["follow_ups_traced"] / s["follow_ups"] < 0.98
    assert s["evidence_rejected_on_purpose"] > 0
    # Samples: some stages late, some left overdue for days, a quality alert's low ratings.
    assert s["tickets"] > 50
    assert s["stuck_stages_planned"] > 0
    assert s["ratings_below_3"] >= 3
    finance = s["finance_events"]
    assert finance["OrderPlaced"] == finance["InvoiceIssued"] > 0
    kinds = {k: v for k, v in finance.items() if k.startswith("PaymentReceived:")}
    assert set(kinds) == {
        "PaymentReceived:natural",
        "PaymentReceived:rebate",
        "PaymentReceived:stock_push",
    }
    assert kinds["PaymentReceived:natural"] > kinds["PaymentReceived:stock_push"]
    c = month.commands
    late_answers = [x for x in c if x.action is Action.ANSWER_TICKET and x.params.get("late")]
    assert late_answers
    late_actions = [x for x in c if x.action is Action.COMPLETE_NEXT_ACTION and x.params["late"]]
    assert late_actions
    intents = sum(
        1
        for x in c
        if x.action is Action.CHANGE_DECISION_STATE and x.params["state"] == "intent_confirmed"
    )
    joins = [x for x in c if x.action is Action.CONFIRM_NEGOTIATION_JOIN]
    assert 0 < len(joins) < intents  # some managers never confirm
    assert any(x.params["late"] for x in joins)
    reports = sum(1 for x in c if x.action is Action.FILE_PROGRESS_REPORT)
    answers = [x for x in c if x.action is Action.ANSWER_PROGRESS_REPORT]
    assert 0 < len(answers) < reports
    assert any(x.params["late"] for x in answers)


def test_the_first_working_day_already_takes_every_branch(month: QuarterPlan) -> None:
    day = month.start.astimezone(TIMEZONE).date()
    today = [c for c in month.commands if c.at.astimezone(TIMEZONE).date() == day]
    actions = Counter(c.action for c in today)
    for action in Action:
        if action is not Action.SUPPLY_INFO:
            assert actions[action] > 0, action
    assert any(c.expect == 422 for c in today)
    assert any(Decimal(c.params.get("concession_pct", "0")) > 12 for c in today)
    stars = [c.params["stars"] for c in today if c.action is Action.RATE_TICKET]
    assert sum(1 for s in stars if s < 3) >= 3
    assert any(c.params.get("stuck") for c in today if c.action is Action.SUBMIT_TICKET)


_MODELS: dict[Action, type[BaseModel]] = {
    Action.ALLOCATE_TARGET: AllocateTargetRequest,
    Action.LOG_FOLLOW_UP: FollowUpRequest,
    Action.CHANGE_DECISION_STATE: ChangeDecisionStateRequest,
    Action.COMMIT_NEXT_ACTION: NextActionRequest,
    Action.FILE_PROGRESS_REPORT: ProgressReportRequest,
    Action.ANSWER_PROGRESS_REPORT: SupportAnswerRequest,
    Action.PLAN_TASK: PlanTaskRequest,
    Action.DECIDE_CONCESSION: DecisionRequest,
    Action.SUBMIT_TICKET: SubmitTicketRequest,
    Action.ANSWER_TICKET: AnswerRequest,
    Action.SUPPLY_INFO: InfoRequest,
    Action.SHIP_TICKET: ShipRequest,
    Action.RATE_TICKET: RatingRequest,
}


def test_every_request_is_one_the_services_accept(month: QuarterPlan) -> None:
    records = Records()
    records.customers = {c.external_key: f"cus-{n}" for n, c in enumerate(month.customers)}
    thresholds = Thresholds()
    checked: Counter[Action] = Counter()
    for command in month.commands:
        if command.action in (Action.IMPORT_CUSTOMERS, Action.SYNC_CUSTOMERS):
            continue
        if command.action is Action.FINANCE_EVENT:
            _, subject = finance_event(command, records)  # validates the contract
            assert subject.startswith("KT-")
            continue
        if command.action is Action.SUBMIT_TASK and "photo" in command.params:
            continue  # the files are checked in test_evidence.py
        request = request_for(command, records, command.at)
        # What the services would answer with: the record exists for the story's next steps.
        for key, found in (
            ("task", records.tasks),
            ("ticket", records.tickets),
            ("report", records.reports),
        ):
            found.setdefault(command.params.get(key, ""), f"{key}-id")
        model = _MODELS.get(command.action)
        if model is not None:
            model.model_validate(request.json)
            checked[command.action] += 1
        if command.action is Action.FILE_PROGRESS_REPORT:
            assert len(request.json["support_needed"]) <= thresholds.support_needed_max_chars
        if command.action is Action.COMMIT_NEXT_ACTION:
            assert datetime.fromisoformat(request.json["due_at"]) > command.at
        if command.action is Action.LOG_FOLLOW_UP:
            assert datetime.fromisoformat(request.json["contacted_at"]) <= command.at
    assert set(checked) == set(_MODELS)


def test_the_crm_export_imports_without_a_single_bad_row(month: QuarterPlan) -> None:
    directory = month.company.directory
    imports = [c for c in month.commands if c.action is Action.IMPORT_CUSTOMERS]
    assert len(imports) == 6  # one per region, by its manager
    rows = 0
    for command in imports:
        parsed = parse_customer_import(
            import_csv(command.params["rows"]),
            content_type="text/csv",
            directory=directory,
            tz=TIMEZONE,
            now=month.start,
        )
        assert parsed.problems == []
        # A manager imports their own region's customers (the service checks they oversee them).
        assert {month.company.region_of(r.owner_id).manager for r in parsed.rows} == {command.actor}
        rows += len(parsed.rows)
    assert rows == len(month.customers)


def test_a_quarter_is_every_day_of_its_three_months() -> None:
    days = quarter_days("2026-Q2")
    assert (days[0], days[-1], len(days)) == (
        datetime(2026, 4, 1, tzinfo=UTC).date(),
        datetime(2026, 6, 30, tzinfo=UTC).date(),
        91,
    )
    assert len(quarter_days("2026-Q4")) == 92
    assert not is_workday(days[3])  # 4 April 2026: Qingming
    plan = plan_quarter(generate_company(1), period="2026-Q4", days=12)
    # National Day week: the first working day, and the setup, is 9 October.
    assert plan.start.astimezone(TIMEZONE).date() == datetime(2026, 10, 9).date()
