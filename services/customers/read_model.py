"""The customers service's own read model, updated in the same transaction as each append.

One small projection function per event type; ``apply`` dispatches. Tables: customers
(table 1 rows with their derived flags), follow_ups (history) and progress_reports (the
supervisors' to-do lists).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg
from pydantic import BaseModel

from contracts.customer_actions import (
    CustomerWentStale,
    NegotiationJoinConfirmed,
    NegotiationJoinOverdue,
    NegotiationJoinRequested,
    NextActionCommitted,
    NextActionCompleted,
    NextActionKind,
    NextActionOverdue,
    NextActionsNotUpdated,
)
from contracts.customer_reports import ProgressReported, SupportAnswered, SupportAnswerOverdue
from contracts.customers import (
    CustomerDetailsUpdated,
    CustomerReassigned,
    CustomerRegistered,
    CustomerTier,
    CustomerTierChanged,
    DecisionState,
    DecisionStateChanged,
    FollowUpLogged,
)
from salesops.db import Migration, Statement
from salesops.eventstore import RecordedEvent
from salesops.recording import Projector, project
from services.customers.customer_state import Customer, NegotiationRequest, NextAction

MIGRATIONS = (
    Migration(
        "1001_customers_read_model",
        """
        CREATE TABLE customers (
            customer_id text PRIMARY KEY,
            external_key text UNIQUE,
            name text NOT NULL,
            tier text NOT NULL,
            owner_id text NOT NULL,
            org_unit_id text NOT NULL,
            estimated_contribution numeric NOT NULL,
            decision_state text,
            last_contact_at timestamptz,
            registered_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            version integer NOT NULL
        );
        CREATE INDEX customers_by_owner ON customers (owner_id, last_contact_at DESC NULLS LAST);
        """,
    ),
    Migration(
        "1002_table_one",
        """
        ALTER TABLE customers
            ADD COLUMN stale boolean NOT NULL DEFAULT false,
            ADD COLUMN red_flag boolean NOT NULL DEFAULT false,
            ADD COLUMN next_action_kind text,
            ADD COLUMN next_action_description text,
            ADD COLUMN next_action_due_at timestamptz,
            ADD COLUMN next_action_status text,
            ADD COLUMN next_action_updated_at timestamptz,
            ADD COLUMN negotiation_request_id text,
            ADD COLUMN negotiation_manager_id text,
            ADD COLUMN negotiation_due_at timestamptz,
            ADD COLUMN negotiation_status text;
        CREATE TABLE follow_ups (
            follow_up_id text PRIMARY KEY,
            customer_id text NOT NULL REFERENCES customers,
            kind text NOT NULL,
            contacted_at timestamptz NOT NULL,
            notes text NOT NULL,
            competitor_notes text,
            decision_chain_change text,
            logged_by text NOT NULL,
            logged_at timestamptz NOT NULL
        );
        CREATE INDEX follow_ups_by_customer ON follow_ups (customer_id, contacted_at DESC);
        CREATE TABLE progress_reports (
            report_id text PRIMARY KEY,
            customer_id text NOT NULL REFERENCES customers,
            rep_id text NOT NULL,
            supervisor_id text NOT NULL,
            key_action text NOT NULL,
            obstacle text NOT NULL,
            support_needed text NOT NULL,
            reported_at timestamptz NOT NULL,
            answer_due_at timestamptz NOT NULL,
            answer text,
            note text,
            answered_by text,
            answered_at timestamptz,
            overdue boolean NOT NULL DEFAULT false,
            escalated_to_id text
        );
        CREATE INDEX progress_reports_open ON progress_reports (supervisor_id) WHERE answer IS NULL;
        """,
    ),
    Migration(
        "1003_next_action_completed_at",
        "ALTER TABLE customers ADD COLUMN next_action_completed_at timestamptz,"
        " ADD COLUMN next_action_overdue_reported boolean NOT NULL DEFAULT false",
    ),
)

COLUMNS = (
    "customer_id, external_key, name, tier, owner_id, org_unit_id, estimated_contribution,"
    " decision_state, last_contact_at, registered_at, updated_at, version, stale, red_flag,"
    " next_action_kind, next_action_description, next_action_due_at, next_action_status,"
    " next_action_updated_at, negotiation_request_id, negotiation_manager_id,"
    " negotiation_due_at, negotiation_status, next_action_completed_at,"
    " next_action_overdue_reported"
)


#: The columns each UPDATE that ``_update`` writes sets, by its SQL (see ``_merged``).
_UPDATE_COLUMNS: dict[str, tuple[str, ...]] = {}


def _update_statement(customer_id: str, version: int, columns: dict[str, Any]) -> Statement:
    assignments = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(columns))
    sql = f"UPDATE customers SET version = $2, {assignments} WHERE customer_id = $1"
    _UPDATE_COLUMNS.setdefault(sql, tuple(columns))
    return sql, (customer_id, version, *columns.values())


def _update(customer_id: str, stored: RecordedEvent, **columns: Any) -> list[Statement]:
    return [_update_statement(customer_id, stored.stream_version, columns)]


def _merged(found: list[Statement]) -> list[Statement]:
    """Consecutive ``_update``s of one customer as one UPDATE (the later values win).

    They set plain values, so one UPDATE does what the two in a row do; and a command's
    statements can then be parts of its append statement (a statement may not change one
    row twice), e.g. a DecisionStateChanged with the NegotiationJoinRequested it brings.
    """
    merged: list[Statement] = []
    for sql, args in found:
        if merged and sql in _UPDATE_COLUMNS and merged[-1][0] in _UPDATE_COLUMNS:
            last_sql, last_args = merged[-1]
            if last_args[0] == args[0]:
                columns = dict(zip(_UPDATE_COLUMNS[last_sql], last_args[2:], strict=True))
                columns.update(zip(_UPDATE_COLUMNS[sql], args[2:], strict=True))
                merged[-1] = _update_statement(args[0], args[1], columns)
                continue
        merged.append((sql, args))
    return merged


def _registered(e: CustomerRegistered, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "INSERT INTO customers (customer_id, external_key, name, tier, owner_id, org_unit_id,"
            " estimated_contribution, registered_at, updated_at, version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
            (
                e.customer_id,
                e.external_key,
                e.name,
                e.tier.value,
                e.owner_id,
                e.org_unit_id,
                e.estimated_contribution,
                e.registered_at,
                stored.stream_version,
            ),
        )
    ]


def _tier(e: CustomerTierChanged, stored: RecordedEvent) -> list[Statement]:
    return _update(e.customer_id, stored, tier=e.to_tier.value, updated_at=e.changed_at)


def _reassigned(e: CustomerReassigned, stored: RecordedEvent) -> list[Statement]:
    return _update(
        e.customer_id,
        stored,
        owner_id=e.to_owner_id,
        org_unit_id=e.org_unit_id,
        updated_at=e.reassigned_at,
    )


def _details(e: CustomerDetailsUpdated, stored: RecordedEvent) -> list[Statement]:
    return _update(
        e.customer_id,
        stored,
        name=e.name,
        estimated_contribution=e.estimated_contribution,
        updated_at=e.updated_at,
    )


def _follow_up(e: FollowUpLogged, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "INSERT INTO follow_ups VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            (
                e.follow_up_id,
                e.customer_id,
                e.kind.value,
                e.contacted_at,
                e.notes,
                e.competitor_notes,
                e.decision_chain_change,
                e.logged_by,
                e.logged_at,
            ),
        ),
        (
            # Staleness clears only when the contact is newer than what made it stale.
            "UPDATE customers SET version = $2, updated_at = $4,"
            " stale = stale AND last_contact_at IS NOT NULL AND $3 <= last_contact_at,"
            " last_contact_at = $3 WHERE customer_id = $1",
            (e.customer_id, stored.stream_version, e.last_contact_at, e.logged_at),
        ),
    ]


def _decision(e: DecisionStateChanged, stored: RecordedEvent) -> list[Statement]:
    return _update(e.customer_id, stored, decision_state=e.to_state.value, updated_at=e.changed_at)


def _join_requested(e: NegotiationJoinRequested, stored: RecordedEvent) -> list[Statement]:
    return _update(
        e.customer_id,
        stored,
        negotiation_request_id=e.request_id,
        negotiation_manager_id=e.manager_id,
        negotiation_due_at=e.due_at,
        negotiation_status="requested",
    )


def _join_confirmed(e: NegotiationJoinConfirmed, stored: RecordedEvent) -> list[Statement]:
    return _update(e.customer_id, stored, negotiation_status="confirmed")


def _join_overdue(e: NegotiationJoinOverdue, stored: RecordedEvent) -> list[Statement]:
    return _update(e.customer_id, stored, negotiation_status="overdue")


def _committed(e: NextActionCommitted, stored: RecordedEvent) -> list[Statement]:
    # Updating the next action is what the morning meeting asks for: the red flag clears.
    return _update(
        e.customer_id,
        stored,
        next_action_kind=e.action_kind.value,
        next_action_description=e.description,
        next_action_due_at=e.due_at,
        next_action_status="open",
        next_action_updated_at=e.committed_at,
        next_action_completed_at=None,
        next_action_overdue_reported=False,
        red_flag=False,
    )


def _completed(e: NextActionCompleted, stored: RecordedEvent) -> list[Statement]:
    return _update(
        e.customer_id,
        stored,
        next_action_status="completed" if e.on_time else "completed_late",
        next_action_completed_at=e.completed_at,
    )


def _action_overdue(e: NextActionOverdue, stored: RecordedEvent) -> list[Statement]:
    return _update(
        e.customer_id, stored, next_action_status="overdue", next_action_overdue_reported=True
    )


def _stale(e: CustomerWentStale, stored: RecordedEvent) -> list[Statement]:
    return _update(e.customer_id, stored, stale=True)


def _not_updated(e: NextActionsNotUpdated, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "UPDATE customers SET red_flag = true WHERE customer_id = ANY($1::text[])",
            (e.customer_ids,),
        )
    ]


def _reported(e: ProgressReported, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "INSERT INTO progress_reports (report_id, customer_id, rep_id, supervisor_id,"
            " key_action,"
            " obstacle, support_needed, reported_at, answer_due_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            (
                e.report_id,
                e.customer_id,
                e.rep_id,
                e.supervisor_id,
                e.key_action.value,
                e.obstacle.value,
                e.support_needed,
                e.reported_at,
                e.answer_due_at,
            ),
        )
    ]


def _answered(e: SupportAnswered, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "UPDATE progress_reports SET answer = $2, note = $3, answered_by = $4, answered_at = $5"
            " WHERE report_id = $1",
            (e.report_id, e.answer.value, e.note, e.answered_by, e.answered_at),
        )
    ]


def _answer_overdue(e: SupportAnswerOverdue, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "UPDATE progress_reports SET overdue = true, escalated_to_id = $2 WHERE report_id = $1",
            (e.report_id, e.escalated_to_id),
        )
    ]


_PROJECTORS: dict[type[BaseModel], Projector] = {
    CustomerRegistered: _registered,
    CustomerTierChanged: _tier,
    CustomerReassigned: _reassigned,
    CustomerDetailsUpdated: _details,
    FollowUpLogged: _follow_up,
    DecisionStateChanged: _decision,
    NegotiationJoinRequested: _join_requested,
    NegotiationJoinConfirmed: _join_confirmed,
    NegotiationJoinOverdue: _join_overdue,
    NextActionCommitted: _committed,
    NextActionCompleted: _completed,
    NextActionOverdue: _action_overdue,
    CustomerWentStale: _stale,
    NextActionsNotUpdated: _not_updated,
    ProgressReported: _reported,
    SupportAnswered: _answered,
    SupportAnswerOverdue: _answer_overdue,
}


def statements(recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]) -> list[Statement]:
    """What brings the read model up to date with events just appended, in order."""
    return _merged(project(_PROJECTORS, recorded, events))


def customer_state(row: asyncpg.Record) -> Customer:
    """The aggregate's state as this read model holds it.

    The table is projected from every event of the customer's stream in the same
    transaction that appends it, and its ``version`` is the stream's, so a command may
    decide on the row instead of folding an ever longer stream. A test holds the row and
    the fold of the stream equal.
    """
    next_action = None
    if row["next_action_kind"] is not None:
        next_action = NextAction(
            kind=NextActionKind(row["next_action_kind"]),
            description=row["next_action_description"],
            due_at=row["next_action_due_at"],
            completed_at=row["next_action_completed_at"],
            overdue_reported=row["next_action_overdue_reported"],
        )
    negotiation = None
    if row["negotiation_request_id"] is not None:
        negotiation = NegotiationRequest(
            request_id=row["negotiation_request_id"],
            manager_id=row["negotiation_manager_id"],
            due_at=row["negotiation_due_at"],
            confirmed=row["negotiation_status"] == "confirmed",
            overdue_reported=row["negotiation_status"] == "overdue",
        )
    return Customer(
        customer_id=row["customer_id"],
        name=row["name"],
        tier=CustomerTier(row["tier"]),
        owner_id=row["owner_id"],
        org_unit_id=row["org_unit_id"],
        estimated_contribution=Decimal(row["estimated_contribution"]),
        external_key=row["external_key"],
        registered_at=row["registered_at"],
        decision_state=DecisionState(row["decision_state"]) if row["decision_state"] else None,
        last_contact_at=row["last_contact_at"],
        stale=row["stale"],
        next_action=next_action,
        negotiation=negotiation,
        version=row["version"],
    )
