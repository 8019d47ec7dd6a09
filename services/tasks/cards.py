"""The 18:00 to-do card and the submission deadline: which open tasks go to whom."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from contracts.tasks import DailyTodoCardIssued, OpenTask, TasksOverdue


def open_tasks_by_rep(
    tasks: Iterable[tuple[str, OpenTask]], *, until: datetime
) -> dict[str, list[OpenTask]]:
    """Per rep, their open tasks scheduled before ``until`` (the end of the card's day)."""
    by_rep: dict[str, list[OpenTask]] = defaultdict(list)
    for rep_id, task in tasks:
        if task.scheduled_at < until:
            by_rep[rep_id].append(task)
    return {
        rep: sorted(found, key=lambda t: (t.scheduled_at, t.task_id))
        for rep, found in by_rep.items()
    }


def cards(
    by_rep: dict[str, list[OpenTask]], *, card_date: date, issued_at: datetime, submit_by: datetime
) -> list[DailyTodoCardIssued]:
    """One card per rep with open tasks; a rep with none gets no card."""
    return [
        DailyTodoCardIssued(
            rep_id=rep,
            card_date=card_date,
            issued_at=issued_at,
            submit_by=submit_by,
            open_tasks=tasks,
        )
        for rep, tasks in sorted(by_rep.items())
        if tasks
    ]


def overdue(
    by_rep: dict[str, list[OpenTask]],
    supervisors: dict[str, str | None],
    *,
    card_date: date,
    deadline_at: datetime,
) -> list[TasksOverdue]:
    """One overdue event per rep whose tasks are still open at the deadline."""
    return [
        TasksOverdue(
            rep_id=rep,
            supervisor_id=supervisors.get(rep),
            card_date=card_date,
            deadline_at=deadline_at,
            overdue_tasks=tasks,
        )
        for rep, tasks in sorted(by_rep.items())
        if tasks
    ]
