"""Projection: what events change in the facts, and that the order they meet in does not matter."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from contracts.base import IntegrationEvent
from contracts.collaboration import (
    InfoRequested,
    InfoSupplied,
    TicketAnswered,
    TicketDispatched,
    TicketRated,
    TicketSubmitted,
    TicketTimedOut,
)
from contracts.customer_actions import CustomerWentStale, NextActionCompleted, NextActionOverdue
from contracts.customers import (
    CustomerReassigned,
    CustomerRegistered,
    CustomerTierChanged,
    FollowUpLogged,
)
from contracts.notifier import NotificationDelivered
from contracts.tasks import OpenTask, TaskPlanned, TasksOverdue, TaskSubmitted
from services.metrics import facts as f
from services.metrics.fact_batch import FactBatch, merge_value
from services.metrics.facts import EventMeta
from services.metrics.project_customers import follow_up_is_traced
from services.metrics.projection import project

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def example(cls: type[IntegrationEvent], **update: Any) -> Any:
    return cls.examples()[0].model_copy(update=update)


def meta(at: datetime = T0) -> EventMeta:
    return EventMeta(uuid.uuid4(), at)


def follow_up(**update: Any) -> FollowUpLogged:
    event: FollowUpLogged = example(FollowUpLogged, **update)
    return event


# --- the trace rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("competitor", "chain", "traced"),
    [
        ("竞品报价低 8%", None, True),
        (None, "采购总监换成李总", True),
        ("竞品报价低 8%", "采购总监换成李总", True),
        (None, None, False),
        ("   ", "\t", False),  # blanks record nothing
    ],
)
def test_a_follow_up_is_traced_when_it_records_competitor_news_or_a_decision_chain_change(
    competitor: str | None, chain: str | None, traced: bool
) -> None:
    event = follow_up(competitor_notes=competitor, decision_chain_change=chain)
    assert follow_up_is_traced(event) is traced


def test_a_follow_up_without_notes_is_not_traced_even_with_competitor_news() -> None:
    assert not follow_up_is_traced(follow_up(notes=" ", competitor_notes="竞品报价低 8%"))


def test_an_imported_follow_up_is_kept_but_marked_as_imported() -> None:
    changes = project(follow_up(kind="imported", follow_up_id="fu-1"), meta())
    row = next(c for c in changes if c.table is f.FOLLOW_UPS)
    assert row.values["imported"] is True


# --- what events change -------------------------------------------------------------------


def test_an_event_no_figure_depends_on_changes_nothing() -> None:
    assert project(example(NotificationDelivered), meta()) == []


def test_tasks_overdue_marks_every_task_it_lists() -> None:
    tasks = [
        OpenTask(task_id=t, customer_id="c", kind="visit", title="拜访", scheduled_at=T0)
        for t in ("task-1", "task-2")
    ]
    changes = project(example(TasksOverdue, overdue_tasks=tasks), meta())
    assert [(c.table, c.key, dict(c.values)) for c in changes] == [
        (f.TASKS, ("task-1",), {"overdue": True}),
        (f.TASKS, ("task-2",), {"overdue": True}),
    ]


def test_tech_answer_time_leaves_out_the_time_spent_waiting_for_sales() -> None:
    ticket, team = "tkt-1", "tech-electrical"
    history = [
        example(TicketDispatched, ticket_id=ticket, team_id=team, dispatched_at=T0),
        example(
            InfoRequested, ticket_id=ticket, team_id=team, requested_at=T0 + timedelta(minutes=30)
        ),
        example(
            InfoSupplied,
            ticket_id=ticket,
            team_id=team,
            supplied_at=T0 + timedelta(hours=1, minutes=30),
            due_at=T0 + timedelta(hours=3),
        ),
        example(
            TicketAnswered, ticket_id=ticket, team_id=team, answered_at=T0 + timedelta(hours=2)
        ),
    ]
    batch = FactBatch()
    for event in history:
        batch.add_all(project(event, meta()))
    row = batch.row(f.STAGES, (ticket, f"tech_answer:{team}"))
    assert row is not None
    assert row["paused_seconds"] == Decimal(3600)
    assert row["open_info_requests"] == 0
    assert row["due_at"] == T0 + timedelta(hours=3)  # the resumed clock's due time
    answered_in = row["finished_at"] - row["started_at"] - timedelta(seconds=3600)
    assert answered_in == timedelta(hours=1)


@pytest.mark.parametrize(
    ("merge", "old", "new", "merged"),
    [
        ("set", 1, 2, 2),
        ("set", 1, None, None),
        ("max", T0, T0 - timedelta(1), T0),
        ("max", None, T0, T0),
        ("min", T0, T0 - timedelta(1), T0 - timedelta(1)),
        ("min", T0, None, T0),
        ("add", Decimal(-5), Decimal(7), Decimal(2)),
        ("max", False, True, True),
    ],
)
def test_each_column_merges_as_declared(merge: str, old: Any, new: Any, merged: Any) -> None:
    assert merge_value(merge, old, new) == merged


# --- order does not matter ----------------------------------------------------------------


def history_of_one_quarter() -> list[tuple[IntegrationEvent, EventMeta]]:
    """Events of every source about two customers, in the order they happened."""
    at = [T0 + timedelta(hours=h) for h in range(40)]
    ticket, team = "tkt-9", "tech-structural"
    events: list[IntegrationEvent] = [
        example(
            CustomerRegistered, customer_id="c1", owner_id="rep-zhang-wei", registered_at=at[0]
        ),
        example(
            CustomerRegistered, customer_id="c2", owner_id="rep-wang-fang", registered_at=at[0]
        ),
        follow_up(customer_id="c1", follow_up_id="fu-1", contacted_at=at[1]),
        follow_up(customer_id="c1", follow_up_id="fu-2", contacted_at=at[5], competitor_notes=None),
        follow_up(customer_id="c2", follow_up_id="fu-3", contacted_at=at[3]),
        example(CustomerTierChanged, customer_id="c2", to_tier="A", changed_at=at[4]),
        example(
            CustomerReassigned, customer_id="c2", to_owner_id="rep-liu-yang", reassigned_at=at[6]
        ),
        example(CustomerWentStale, customer_id="c1", last_contact_at=at[5], detected_at=at[30]),
        example(NextActionCompleted, customer_id="c1", due_at=at[8], completed_at=at[7]),
        example(
            NextActionOverdue,
            customer_id="c2",
            due_at=at[9],
            detected_at=at[9],
            action_kind="schedule_factory_visit",
        ),
        example(
            NextActionCompleted, customer_id="c2", due_at=at[9], completed_at=at[12], on_time=False
        ),
        example(TaskPlanned, task_id="task-1", customer_id="c1", scheduled_at=at[10]),
        example(
            TaskSubmitted,
            task_id="task-1",
            customer_id="c1",
            rep_id="rep-zhang-wei",
            kind="visit",
            scheduled_at=at[10],
            submitted_at=at[11],
        ),
        example(TaskPlanned, task_id="task-2", customer_id="c2", scheduled_at=at[10]),
        example(
            TasksOverdue,
            overdue_tasks=[
                OpenTask(
                    task_id="task-2",
                    customer_id="c2",
                    kind="visit",
                    title="拜访",
                    scheduled_at=at[10],
                )
            ],
        ),
        example(TicketSubmitted, ticket_id=ticket, customer_id="c1", submitted_at=at[13]),
        example(
            TicketDispatched, ticket_id=ticket, team_id=team, dispatched_at=at[13], due_at=at[15]
        ),
        example(InfoRequested, ticket_id=ticket, team_id=team, requested_at=at[14]),
        example(InfoSupplied, ticket_id=ticket, team_id=team, supplied_at=at[16], due_at=at[17]),
        example(TicketTimedOut, ticket_id=ticket, stage="tech_answer", team_id=team, due_at=at[17]),
        example(TicketAnswered, ticket_id=ticket, team_id=team, answered_at=at[18], on_time=False),
        example(
            TicketRated, ticket_id=ticket, stars=2, team_ids=[team, "logistics"], rated_at=at[20]
        ),
    ]
    return [(event, meta(at[0])) for event in events]


def merged(history: list[tuple[IntegrationEvent, EventMeta]]) -> dict[str, Any]:
    batch = FactBatch()
    for event, event_meta in history:
        batch.add_all(project(event, event_meta))
    return {table.name: rows for table, rows in batch.tables()}


def test_the_facts_are_the_same_whatever_order_the_events_meet_in() -> None:
    history = history_of_one_quarter()
    in_order = merged(history)
    shuffler = random.Random(20260302)
    for _ in range(200):
        shuffled = history[:]
        shuffler.shuffle(shuffled)
        assert merged(shuffled) == in_order


def test_a_late_contact_does_not_move_the_last_contact_back() -> None:
    facts = merged(history_of_one_quarter())
    assert facts["customer_flags"][("c1",)]["last_contact_at"] == T0 + timedelta(hours=5)
    assert facts["next_actions"][("c2", T0 + timedelta(hours=9))] == {
        "owner_id": "rep-zhang-wei",
        "action_kind": "schedule_factory_visit",
        "overdue": True,
        "completed_at": T0 + timedelta(hours=12),
        "on_time": False,
    }
