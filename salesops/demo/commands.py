"""What the generated quarter consists of: commands people give the services, in time order.

A :class:`Command` is one thing a person (or an outside system) does at a business instant:
log a follow-up, submit a task with its evidence, answer a ticket, publish a payment. Its
``params`` are plain JSON values; records the services create (customers, tasks, tickets,
progress reports) are named by plan keys (a customer by its external key, a task by
``T000123``) that the player maps to the ids the services hand out. Commands of one
``story`` (one customer's table-1 record, one task, one ticket...) must run in order; different
stories are independent, except that everything waits for the ``setup`` story.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from salesops.demo.company import Company

SETUP_STORY = "setup"
FINANCE_STORY = "finance"
#: The actor of events that come from outside systems (the ERP), not from a person.
ERP_ACTOR = "erp"


class Action(StrEnum):
    """Every kind of command, named after what the person does."""

    ALLOCATE_TARGET = "allocate_target"
    IMPORT_CUSTOMERS = "import_customers"
    SYNC_CUSTOMERS = "sync_customers"
    LOG_FOLLOW_UP = "log_follow_up"
    CHANGE_DECISION_STATE = "change_decision_state"
    CONFIRM_NEGOTIATION_JOIN = "confirm_negotiation_join"
    COMMIT_NEXT_ACTION = "commit_next_action"
    COMPLETE_NEXT_ACTION = "complete_next_action"
    FILE_PROGRESS_REPORT = "file_progress_report"
    ANSWER_PROGRESS_REPORT = "answer_progress_report"
    PLAN_TASK = "plan_task"
    SUBMIT_TASK = "submit_task"
    DECIDE_CONCESSION = "decide_concession"
    SUBMIT_TICKET = "submit_ticket"
    ANSWER_TICKET = "answer_ticket"
    SUPPLY_INFO = "supply_info"
    START_STOCKING = "start_stocking"
    SHIP_TICKET = "ship_ticket"
    CONFIRM_RECEIPT = "confirm_receipt"
    RATE_TICKET = "rate_ticket"
    FINANCE_EVENT = "finance_event"


@dataclass(frozen=True)
class Command:
    """One command at business time ``at`` by ``actor`` (a person id, or :data:`ERP_ACTOR`)."""

    at: datetime
    seq: int
    actor: str
    action: Action
    story: str
    params: Mapping[str, Any]
    #: The status the service is meant to answer when it is not a success: evidence that is
    #: rejected on purpose (422), so the player does not count it as a failure.
    expect: int | None = None

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.at, self.seq)


@dataclass(frozen=True)
class CustomerSpec:
    """A row of table 1 as the company's CRM exports it."""

    external_key: str
    name: str
    tier: str
    owner: str
    org_unit: str
    estimated_contribution: Decimal
    distributor: bool
    city: str
    last_contact_at: datetime


@dataclass(frozen=True)
class QuarterPlan:
    """A quarter of the company's activity: the customers, then every command in time order."""

    company: Company
    seed: int
    period: str
    #: When business time starts (the clock's ``start``): the setup runs at this instant.
    start: datetime
    days: tuple[date, ...]
    customers: tuple[CustomerSpec, ...]
    commands: tuple[Command, ...]
    #: Targets per node (HQ, regions, groups, reps) for ``period``.
    targets: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.commands[-1].at if self.commands else self.start

    def counts(self) -> Counter[str]:
        """How many commands of each action (finance events by event type)."""
        found: Counter[str] = Counter()
        for command in self.commands:
            if command.action is Action.FINANCE_EVENT:
                found[f"finance:{command.params['type']}"] += 1
            else:
                found[str(command.action)] += 1
        return found

    def until(self, moment: datetime) -> QuarterPlan:
        """The plan cut off after ``moment`` (a short stretch for a test or a quick run)."""
        kept = tuple(c for c in self.commands if c.at <= moment)
        days = tuple(d for d in self.days if d <= moment.date())
        return QuarterPlan(
            self.company,
            self.seed,
            self.period,
            self.start,
            days,
            self.customers,
            kept,
            self.targets,
        )

    def summary(self) -> dict[str, Any]:
        """The plan's shares: what a test checks and a demo prints."""
        c = self.commands
        quotes = [x for x in c if x.action is Action.SUBMIT_TASK and "target_price" in x.params]
        over = [x for x in quotes if Decimal(x.params["concession_pct"]) > 12]
        decisions = Counter(x.params["decision"] for x in c if x.action is Action.DECIDE_CONCESSION)
        ratings = [x.params["stars"] for x in c if x.action is Action.RATE_TICKET]
        finance = Counter(
            ":".join(
                [
                    x.params["type"],
                    *([x.params["data"]["kind"]] if "kind" in x.params["data"] else []),
                ]
            )
            for x in c
            if x.action is Action.FINANCE_EVENT
        )
        follow_ups = [x for x in c if x.action is Action.LOG_FOLLOW_UP]
        traced = [
            x
            for x in follow_ups
            if x.params.get("competitor_notes") or x.params.get("decision_chain_change")
        ]
        return {
            "people": len(self.company.mapping["people"]),
            "customers": len(self.customers),
            "distributors": sum(1 for x in self.customers if x.distributor),
            "days": len(self.days),
            "commands": len(c),
            "follow_ups": len(follow_ups),
            "follow_ups_traced": len(traced),
            "quotes": len(quotes),
            "quotes_over_threshold": len(over),
            "concession_decisions": dict(decisions),
            "evidence_rejected_on_purpose": sum(1 for x in c if x.expect == 422),
            "tickets": sum(1 for x in c if x.action is Action.SUBMIT_TICKET),
            "late_stages_planned": sum(1 for x in c if x.params.get("late")),
            "stuck_stages_planned": sum(len(x.params.get("stuck", ())) for x in c),
            "ratings": len(ratings),
            "ratings_below_3": sum(1 for s in ratings if s < 3),
            "finance_events": dict(finance),
        }
