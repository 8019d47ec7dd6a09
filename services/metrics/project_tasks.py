"""What the events of table 2 (tasks) change in the metrics facts."""

from __future__ import annotations

from typing import Any

from contracts.tasks import (
    ConcessionApproved,
    ConcessionExceeded,
    ConcessionRejected,
    TaskPlanned,
    TasksOverdue,
    TaskSubmitted,
)
from services.metrics import facts as f
from services.metrics.facts import Change, EventMeta, Projections


def _task(e: TaskPlanned | TaskSubmitted, **values: Any) -> Change:
    common = {
        "customer_id": e.customer_id,
        "rep_id": e.rep_id,
        "kind": str(e.kind),
        "scheduled_at": e.scheduled_at,
    }
    return Change(f.TASKS, (e.task_id,), {**common, **values})


def _planned(e: TaskPlanned, meta: EventMeta) -> list[Change]:
    return [_task(e)]


def _submitted(e: TaskSubmitted, meta: EventMeta) -> list[Change]:
    return [_task(e, submitted_at=e.submitted_at, compliant=e.evidence_compliant)]


def _tasks_overdue(e: TasksOverdue, meta: EventMeta) -> list[Change]:
    return [Change(f.TASKS, (t.task_id,), {"overdue": True}) for t in e.overdue_tasks]


def _exceeded(e: ConcessionExceeded, meta: EventMeta) -> list[Change]:
    values = {"customer_id": e.customer_id, "rep_id": e.rep_id, "exceeded_at": meta.occurred_at}
    return [Change(f.CONCESSIONS, (e.task_id, e.concession_pct), values)]


def _decided(e: ConcessionApproved | ConcessionRejected, meta: EventMeta) -> list[Change]:
    values = {
        "customer_id": e.customer_id,
        "rep_id": e.rep_id,
        "decision": "approved" if isinstance(e, ConcessionApproved) else "rejected",
        "decided_by": e.decided_by,
        "decided_at": e.decided_at,
    }
    return [Change(f.CONCESSIONS, (e.task_id, e.concession_pct), values)]


PROJECTIONS: Projections = {
    TaskPlanned: _planned,
    TaskSubmitted: _submitted,
    TasksOverdue: _tasks_overdue,
    ConcessionExceeded: _exceeded,
    ConcessionApproved: _decided,
    ConcessionRejected: _decided,
}
