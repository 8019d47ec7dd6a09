"""The collaboration read model: tickets, their stages (the SLA board), requests, ratings."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from contracts.collaboration import (
    DepartmentQualityAlert,
    DocumentsCompleted,
    InfoRequested,
    InfoSupplied,
    ReceiptConfirmed,
    StockingStarted,
    TicketAnswered,
    TicketDispatched,
    TicketEscalated,
    TicketRated,
    TicketShipped,
    TicketSubmitted,
    TicketTimedOut,
)
from salesops import known_customers
from salesops.db import Migration, Statement
from salesops.eventstore import RecordedEvent
from salesops.recording import Projector, project

MIGRATIONS = (
    *known_customers.MIGRATIONS,
    Migration(
        "3001_collaboration_read_model",
        """
        CREATE TABLE tickets (
            ticket_id text PRIMARY KEY,
            kind text NOT NULL,
            customer_id text NOT NULL,
            requester_id text NOT NULL,
            product text NOT NULL,
            quantity integer NOT NULL,
            document_types text[] NOT NULL,
            note text,
            status text NOT NULL,
            submitted_at timestamptz NOT NULL,
            stars integer,
            version integer NOT NULL
        );
        CREATE TABLE ticket_stages (
            ticket_id text NOT NULL REFERENCES tickets,
            stage_key text NOT NULL,
            stage text NOT NULL,
            team_id text,
            owner_id text NOT NULL,
            started_at timestamptz NOT NULL,
            due_at timestamptz,
            sla_due_at timestamptz,
            finished_at timestamptz,
            on_time boolean,
            level integer NOT NULL DEFAULT 0,
            waiting_for text,
            PRIMARY KEY (ticket_id, stage_key)
        );
        CREATE INDEX ticket_stages_open ON ticket_stages (due_at) WHERE finished_at IS NULL;
        CREATE TABLE document_requests (
            ticket_id text NOT NULL,
            document_type text NOT NULL,
            product text NOT NULL,
            requested_at timestamptz NOT NULL
        );
        CREATE INDEX document_requests_by_time ON document_requests (requested_at);
        CREATE TABLE department_ratings (
            team_id text NOT NULL,
            ticket_id text NOT NULL,
            stars integer NOT NULL,
            comment text,
            rated_at timestamptz NOT NULL,
            PRIMARY KEY (team_id, ticket_id)
        );
        CREATE TABLE department_alerts (
            team_id text NOT NULL,
            raised_at timestamptz NOT NULL,
            ticket_ids text[] NOT NULL
        );
        """,
    ),
    Migration(
        "3002_missing_items",
        "ALTER TABLE ticket_stages ADD COLUMN missing_items text[]",
    ),
)


def _status(ticket_id: str, status: str, stored: RecordedEvent) -> Statement:
    return (
        "UPDATE tickets SET status = $2, version = $3 WHERE ticket_id = $1",
        (ticket_id, status, stored.stream_version),
    )


def _stage_start(
    ticket_id: str, key: str, stage: str, team: str | None, owner: str, at: object, due: object
) -> Statement:
    # sla_due_at keeps the deadline the stage was measured against; due_at moves with each
    # escalation window (and empties while the stage waits for sales).
    return (
        "INSERT INTO ticket_stages (ticket_id, stage_key, stage, team_id, owner_id,"
        " started_at, due_at, sla_due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        (ticket_id, key, stage, team, owner, at, due),
    )


def _stage_end(ticket_id: str, key: str, at: object, on_time: bool) -> Statement:
    return (
        "UPDATE ticket_stages SET finished_at = $3, on_time = $4"
        " WHERE ticket_id = $1 AND stage_key = $2",
        (ticket_id, key, at, on_time),
    )


def _submitted(e: TicketSubmitted, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "INSERT INTO tickets VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting_for_tech', $9,"
            " NULL, $10)",
            (
                e.ticket_id,
                e.ticket_kind,
                e.customer_id,
                e.requester_id,
                e.product,
                e.quantity,
                e.document_types,
                e.note,
                e.submitted_at,
                stored.stream_version,
            ),
        ),
        *(
            (
                "INSERT INTO document_requests VALUES ($1, $2, $3, $4)",
                (e.ticket_id, doc, e.product, e.submitted_at),
            )
            for doc in e.document_types
        ),
    ]


def _dispatched(e: TicketDispatched, stored: RecordedEvent) -> list[Statement]:
    return [
        _stage_start(
            e.ticket_id,
            f"tech_answer:{e.team_id}",
            "tech_answer",
            e.team_id,
            e.owner_id,
            e.dispatched_at,
            e.due_at,
        )
    ]


def _answered(e: TicketAnswered, stored: RecordedEvent) -> list[Statement]:
    return [
        _stage_end(e.ticket_id, f"tech_answer:{e.team_id}", e.answered_at, e.on_time),
        _status(e.ticket_id, "waiting_for_tech", stored),
    ]


def _info_requested(e: InfoRequested, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "UPDATE ticket_stages SET due_at = NULL, waiting_for = 'sales', missing_items = $3"
            " WHERE ticket_id = $1 AND stage_key = $2",
            (e.ticket_id, f"tech_answer:{e.team_id}", e.missing_items),
        ),
        _status(e.ticket_id, "waiting_for_sales", stored),
    ]


def _info_supplied(e: InfoSupplied, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "UPDATE ticket_stages SET due_at = $3, sla_due_at = $3, waiting_for = NULL,"
            " missing_items = NULL WHERE ticket_id = $1 AND stage_key = $2",
            (e.ticket_id, f"tech_answer:{e.team_id}", e.due_at),
        ),
        _status(e.ticket_id, "waiting_for_tech", stored),
    ]


def _completed(e: DocumentsCompleted, stored: RecordedEvent) -> list[Statement]:
    return [
        _stage_start(
            e.ticket_id,
            "stocking_start",
            "stocking_start",
            e.team_id,
            e.owner_id,
            e.completed_at,
            e.stocking_due_at,
        ),
        _status(e.ticket_id, "documents_complete", stored),
    ]


def _stocking(e: StockingStarted, stored: RecordedEvent) -> list[Statement]:
    return [
        _stage_end(e.ticket_id, "stocking_start", e.started_at, e.on_time),
        _status(e.ticket_id, "stocking", stored),
    ]


def _shipped(e: TicketShipped, stored: RecordedEvent) -> list[Statement]:
    # Receipt is the requester's stage: the requester owns it until it escalates.
    return [
        (
            "INSERT INTO ticket_stages (ticket_id, stage_key, stage, team_id, owner_id,"
            " started_at, due_at, sla_due_at) SELECT $1, 'receipt_confirmation',"
            " 'receipt_confirmation', NULL, requester_id, $2, $3, $3 FROM tickets"
            " WHERE ticket_id = $1",
            (e.ticket_id, e.shipped_at, e.receipt_due_at),
        ),
        _status(e.ticket_id, "shipped", stored),
    ]


def _received(e: ReceiptConfirmed, stored: RecordedEvent) -> list[Statement]:
    return [
        _stage_end(e.ticket_id, "receipt_confirmation", e.confirmed_at, e.on_time),
        _status(e.ticket_id, "received", stored),
    ]


def _rated(e: TicketRated, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "UPDATE tickets SET status = 'rated', stars = $2, version = $3 WHERE ticket_id = $1",
            (e.ticket_id, e.stars, stored.stream_version),
        ),
        *(
            (
                "INSERT INTO department_ratings VALUES ($1, $2, $3, $4, $5)",
                (team, e.ticket_id, e.stars, e.comment, e.rated_at),
            )
            for team in e.team_ids
        ),
    ]


def _timed_out(e: TicketTimedOut, stored: RecordedEvent) -> list[Statement]:
    key = f"tech_answer:{e.team_id}" if e.stage == "tech_answer" else e.stage.value
    return [
        (
            "UPDATE ticket_stages SET level = $3, due_at = $4"
            " WHERE ticket_id = $1 AND stage_key = $2",
            (e.ticket_id, key, e.escalation_level, e.next_due_at),
        )
    ]


def _escalated(e: TicketEscalated, stored: RecordedEvent) -> list[Statement]:
    key = f"tech_answer:{e.team_id}" if e.stage == "tech_answer" else e.stage.value
    return [
        (
            "UPDATE ticket_stages SET owner_id = $3 WHERE ticket_id = $1 AND stage_key = $2",
            (e.ticket_id, key, e.to_owner_id),
        )
    ]


def _alert(e: DepartmentQualityAlert, stored: RecordedEvent) -> list[Statement]:
    return [
        (
            "INSERT INTO department_alerts VALUES ($1, $2, $3)",
            (e.team_id, e.raised_at, e.ticket_ids),
        )
    ]


_PROJECTORS: dict[type[BaseModel], Projector] = {
    TicketSubmitted: _submitted,
    TicketDispatched: _dispatched,
    TicketAnswered: _answered,
    InfoRequested: _info_requested,
    InfoSupplied: _info_supplied,
    DocumentsCompleted: _completed,
    StockingStarted: _stocking,
    TicketShipped: _shipped,
    ReceiptConfirmed: _received,
    TicketRated: _rated,
    TicketTimedOut: _timed_out,
    TicketEscalated: _escalated,
    DepartmentQualityAlert: _alert,
}


def statements(recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]) -> list[Statement]:
    return project(_PROJECTORS, recorded, events)
