"""The customers service's own read model, updated in the same transaction as each append.

One small projection function per event type; ``apply`` dispatches. Tables: customers
(table 1 rows with their derived flags), follow_ups (history) and progress_reports (the
supervisors' to-do lists).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel

from contracts.customer_actions import (
    CustomerWentStale,
    NegotiationJoinConfirmed,
    NegotiationJoinOverdue,
    NegotiationJoinRequested,
    NextActionCommitted,
    NextActionCompleted,
    NextActionOverdue,
    NextActionsNotUpdated,
)
from contracts.customer_reports import ProgressReported, SupportAnswered, SupportAnswerOverdue
from contracts.customers import (
    CustomerDetailsUpdated,
    CustomerReassigned,
    CustomerRegistered,
    CustomerTierChanged,
    DecisionStateChanged,
    FollowUpLogged,
)
from salesops.db import DbConnection, Migration
from salesops.eventstore import RecordedEvent

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
)

COLUMNS = (
    "customer_id, external_key, name, tier, owner_id, org_unit_id, estimated_contribution,"
    " decision_state, last_contact_at, registered_at, updated_at, version, stale, red_flag,"
    " next_action_kind, next_action_description, next_action_due_at, next_action_status,"
    " next_action_updated_at, negotiation_request_id, negotiation_manager_id,"
    " negotiation_due_at, negotiation_status"
)

Projector = Callable[[DbConnection, Any, RecordedEvent], Awaitable[None]]


async def _update(
    conn: DbConnection, customer_id: str, stored: RecordedEvent, **columns: Any
) -> None:
    names = list(columns)
    assignments = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(names))
    await conn.execute(
        f"UPDATE customers SET version = $2, {assignments} WHERE customer_id = $1",
        customer_id,
        stored.stream_version,
        *columns.values(),
    )


async def _registered(conn: DbConnection, e: CustomerRegistered, stored: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO customers (customer_id, external_key, name, tier, owner_id, org_unit_id,"
        " estimated_contribution, registered_at, updated_at, version)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
        e.customer_id,
        e.external_key,
        e.name,
        e.tier.value,
        e.owner_id,
        e.org_unit_id,
        e.estimated_contribution,
        e.registered_at,
        stored.stream_version,
    )


async def _tier(conn: DbConnection, e: CustomerTierChanged, stored: RecordedEvent) -> None:
    await _update(conn, e.customer_id, stored, tier=e.to_tier.value, updated_at=e.changed_at)


async def _reassigned(conn: DbConnection, e: CustomerReassigned, stored: RecordedEvent) -> None:
    await _update(
        conn,
        e.customer_id,
        stored,
        owner_id=e.to_owner_id,
        org_unit_id=e.org_unit_id,
        updated_at=e.reassigned_at,
    )


async def _details(conn: DbConnection, e: CustomerDetailsUpdated, stored: RecordedEvent) -> None:
    await _update(
        conn,
        e.customer_id,
        stored,
        name=e.name,
        estimated_contribution=e.estimated_contribution,
        updated_at=e.updated_at,
    )


async def _follow_up(conn: DbConnection, e: FollowUpLogged, stored: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO follow_ups VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        e.follow_up_id,
        e.customer_id,
        e.kind.value,
        e.contacted_at,
        e.notes,
        e.competitor_notes,
        e.decision_chain_change,
        e.logged_by,
        e.logged_at,
    )
    # Staleness clears only when the contact is newer than what made the customer stale.
    await conn.execute(
        "UPDATE customers SET version = $2, updated_at = $4,"
        " stale = stale AND last_contact_at IS NOT NULL AND $3 <= last_contact_at,"
        " last_contact_at = $3 WHERE customer_id = $1",
        e.customer_id,
        stored.stream_version,
        e.last_contact_at,
        e.logged_at,
    )


async def _decision(conn: DbConnection, e: DecisionStateChanged, stored: RecordedEvent) -> None:
    await _update(
        conn, e.customer_id, stored, decision_state=e.to_state.value, updated_at=e.changed_at
    )


async def _join_requested(
    conn: DbConnection, e: NegotiationJoinRequested, stored: RecordedEvent
) -> None:
    await _update(
        conn,
        e.customer_id,
        stored,
        negotiation_request_id=e.request_id,
        negotiation_manager_id=e.manager_id,
        negotiation_due_at=e.due_at,
        negotiation_status="requested",
    )


async def _join_confirmed(
    conn: DbConnection, e: NegotiationJoinConfirmed, stored: RecordedEvent
) -> None:
    await _update(conn, e.customer_id, stored, negotiation_status="confirmed")


async def _join_overdue(
    conn: DbConnection, e: NegotiationJoinOverdue, stored: RecordedEvent
) -> None:
    await _update(conn, e.customer_id, stored, negotiation_status="overdue")


async def _committed(conn: DbConnection, e: NextActionCommitted, stored: RecordedEvent) -> None:
    # Updating the next action is exactly what the morning meeting asks: the red flag clears.
    await _update(
        conn,
        e.customer_id,
        stored,
        next_action_kind=e.action_kind.value,
        next_action_description=e.description,
        next_action_due_at=e.due_at,
        next_action_status="open",
        next_action_updated_at=e.committed_at,
        red_flag=False,
    )


async def _completed(conn: DbConnection, e: NextActionCompleted, stored: RecordedEvent) -> None:
    await _update(
        conn,
        e.customer_id,
        stored,
        next_action_status="completed" if e.on_time else "completed_late",
    )


async def _action_overdue(conn: DbConnection, e: NextActionOverdue, stored: RecordedEvent) -> None:
    await _update(conn, e.customer_id, stored, next_action_status="overdue")


async def _stale(conn: DbConnection, e: CustomerWentStale, stored: RecordedEvent) -> None:
    await _update(conn, e.customer_id, stored, stale=True)


async def _not_updated(conn: DbConnection, e: NextActionsNotUpdated, stored: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE customers SET red_flag = true WHERE customer_id = ANY($1::text[])", e.customer_ids
    )


async def _reported(conn: DbConnection, e: ProgressReported, stored: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO progress_reports (report_id, customer_id, rep_id, supervisor_id, key_action,"
        " obstacle, support_needed, reported_at, answer_due_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        e.report_id,
        e.customer_id,
        e.rep_id,
        e.supervisor_id,
        e.key_action.value,
        e.obstacle.value,
        e.support_needed,
        e.reported_at,
        e.answer_due_at,
    )


async def _answered(conn: DbConnection, e: SupportAnswered, stored: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE progress_reports SET answer = $2, note = $3, answered_by = $4, answered_at = $5"
        " WHERE report_id = $1",
        e.report_id,
        e.answer.value,
        e.note,
        e.answered_by,
        e.answered_at,
    )


async def _answer_overdue(
    conn: DbConnection, e: SupportAnswerOverdue, stored: RecordedEvent
) -> None:
    await conn.execute(
        "UPDATE progress_reports SET overdue = true, escalated_to_id = $2 WHERE report_id = $1",
        e.report_id,
        e.escalated_to_id,
    )


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


async def apply(
    conn: DbConnection, recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]
) -> None:
    """Bring the read model up to date with events just appended (same transaction)."""
    for stored, event in zip(recorded, events, strict=True):
        projector = _PROJECTORS.get(type(event))
        if projector is not None:
            await projector(conn, event, stored)
