"""The tasks service's read model: tasks, their evidence files, and the customers it knows.

Tasks are projected in the command's transaction; customers arrive from the customers
service's events (this service never asks it directly).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from contracts.tasks import ConcessionApproved, ConcessionRejected, TaskPlanned, TaskSubmitted
from salesops import known_customers
from salesops.db import Migration, Statement
from salesops.eventstore import RecordedEvent
from salesops.recording import Projector, project

MIGRATIONS = (
    *known_customers.MIGRATIONS,
    Migration(
        "2001_tasks_read_model",
        """
        CREATE TABLE tasks (
            task_id text PRIMARY KEY,
            customer_id text NOT NULL,
            rep_id text NOT NULL,
            kind text NOT NULL,
            title text NOT NULL,
            scheduled_at timestamptz NOT NULL,
            status text NOT NULL,
            planned_at timestamptz NOT NULL,
            submitted_at timestamptz,
            evidence_compliant boolean,
            target_price numeric,
            deal_price numeric,
            concession_pct numeric,
            decided_by text,
            decision_reason text,
            decided_at timestamptz,
            version integer NOT NULL
        );
        CREATE INDEX tasks_by_rep_and_time ON tasks (rep_id, scheduled_at);
        CREATE INDEX tasks_locked ON tasks (status) WHERE status = 'locked';
        CREATE TABLE evidence_files (
            task_id text NOT NULL,
            sha256 text NOT NULL,
            kind text NOT NULL,
            media_type text NOT NULL,
            file_name text,
            object_key text NOT NULL,
            reviewer_key text NOT NULL,
            PRIMARY KEY (task_id, sha256)
        );
        """,
    ),
    Migration(
        "2002_evidence_capture",
        "ALTER TABLE evidence_files ADD COLUMN capture_time timestamptz,"
        " ADD COLUMN device_id text, ADD COLUMN stored_at timestamptz",
    ),
)

TASK_COLUMNS = (
    "task_id, customer_id, rep_id, kind, title, scheduled_at, status, planned_at, submitted_at,"
    " evidence_compliant, target_price, deal_price, concession_pct, decided_by, decision_reason,"
    " decided_at, version"
)


def _planned(e: TaskPlanned, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "INSERT INTO tasks (task_id, customer_id, rep_id, kind, title, scheduled_at, status,"
            " planned_at, version) VALUES ($1, $2, $3, $4, $5, $6, 'planned', $7, $8)",
            (
                e.task_id,
                e.customer_id,
                e.rep_id,
                e.kind.value,
                e.title,
                e.scheduled_at,
                e.planned_at,
                stored.stream_version,
            ),
        )
    ]


def _submitted(e: TaskSubmitted, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "UPDATE tasks SET status = $2, submitted_at = $3, evidence_compliant = $4,"
            " target_price = $5, deal_price = $6, concession_pct = $7, version = $8,"
            " decided_by = NULL, decision_reason = NULL, decided_at = NULL WHERE task_id = $1",
            (
                e.task_id,
                "locked" if e.locked else "submitted",
                e.submitted_at,
                e.evidence_compliant,
                e.target_price,
                e.deal_price,
                e.concession_pct,
                stored.stream_version,
            ),
        )
    ]


def _decided(status: str) -> Projector:
    def project(
        e: ConcessionApproved | ConcessionRejected, stored: RecordedEvent
    ) -> list[Statement]:
        return [
            (
                "UPDATE tasks SET status = $2, decided_by = $3, decision_reason = $4,"
                " decided_at = $5, version = $6 WHERE task_id = $1",
                (e.task_id, status, e.decided_by, e.reason, e.decided_at, stored.stream_version),
            )
        ]

    return project


_PROJECTORS: dict[type[BaseModel], Projector] = {
    TaskPlanned: _planned,
    TaskSubmitted: _submitted,
    ConcessionApproved: _decided("approved"),
    ConcessionRejected: _decided("rejected"),
}


def statements(recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]) -> list[Statement]:
    """What brings the read model up to date with events just appended, in order."""
    return project(_PROJECTORS, recorded, events)
