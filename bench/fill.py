"""Stored history for the scaling runs, written with COPY (not timed, not the system under test).

``fill_customers`` leaves what years of use leave in the customers schema: customer
streams of ten events each (registered, then nine decision-state changes) with their
``streams`` versions and read-model rows, all owned by one rep, so the load can work on
old customers. ``fill_collaboration`` leaves tickets that went through their tech and
stocking stages: five events each, their ``tickets``/``ticket_stages`` rows and a fired
stage timer. The events are real contract JSON (each kind rendered once by its model,
then copied with the ids changed), already published: no outbox rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from pydantic import BaseModel

from contracts.collaboration import (
    DocumentsCompleted,
    StockingStarted,
    TicketAnswered,
    TicketDispatched,
    TicketSubmitted,
)
from contracts.customers import CustomerRegistered, DecisionState, DecisionStateChanged

BASE = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)
CHUNK = 50_000
EVENTS_PER_CUSTOMER = 10
EVENTS_PER_TICKET = 5
_CUSTOMER = "cus-0placeholder"
_TICKET = "tkt-0placeholder"
_STATES = list(DecisionState)
_EVENT_COLUMNS = [
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "recorded_at",
]


def _template(event: BaseModel) -> tuple[str, str, int]:
    return type(event).__name__, event.model_dump_json(), int(getattr(event, "schema_version", 1))


def _metadata(actor: str) -> str:
    return json.dumps(
        {
            "actor": actor,
            "correlation_id": str(uuid.uuid4()),
            "causation_id": None,
            "traceparent": None,
        }
    )


async def _copy(
    conn: asyncpg.Connection, schema: str, table: str, columns: Sequence[str], rows: list[Any]
) -> None:
    if rows:
        await conn.copy_records_to_table(
            table, schema_name=schema, columns=list(columns), records=rows
        )


def customer_id(n: int) -> str:
    return f"cus-hist{n:08d}"


def _customer_templates(owner: str) -> list[tuple[str, str, int]]:
    registered = CustomerRegistered(
        customer_id=_CUSTOMER,
        external_key=None,
        name="历史客户",
        tier="B",
        owner_id=owner,
        org_unit_id="group-east-1",
        estimated_contribution=Decimal("150000.00"),
        registered_by=owner,
        registered_at=BASE,
    )
    changes = [
        DecisionStateChanged(
            customer_id=_CUSTOMER,
            customer_name="历史客户",
            owner_id=owner,
            org_unit_id="group-east-1",
            from_state=_STATES[(k - 1) % len(_STATES)] if k else None,
            to_state=_STATES[k % len(_STATES)],
            changed_by=owner,
            changed_at=BASE + timedelta(days=k + 1),
        )
        for k in range(EVENTS_PER_CUSTOMER - 1)
    ]
    return [_template(registered), *(_template(change) for change in changes)]


async def fill_customers(dsn: str, events: int, owner: str) -> int:
    """``events`` customer events in whole customers; returns how many customers."""
    templates = _customer_templates(owner)
    customers = max(1, events // EVENTS_PER_CUSTOMER)
    metadata = _metadata(owner)
    last_state = _STATES[(EVENTS_PER_CUSTOMER - 2) % len(_STATES)].value
    conn = await asyncpg.connect(dsn)
    try:
        for first in range(0, customers, CHUNK // EVENTS_PER_CUSTOMER):
            batch = range(first, min(customers, first + CHUNK // EVENTS_PER_CUSTOMER))
            rows = []
            for n in batch:
                cid = customer_id(n)
                for version, (kind, data, schema_version) in enumerate(templates, start=1):
                    rows.append(
                        (
                            uuid.uuid4(),
                            f"customer-{cid}",
                            version,
                            kind,
                            schema_version,
                            data.replace(_CUSTOMER, cid),
                            metadata,
                            BASE + timedelta(days=version),
                        )
                    )
            await _copy(conn, "customers", "events", _EVENT_COLUMNS, rows)
            await _copy(
                conn,
                "customers",
                "streams",
                ["stream_id", "version"],
                [(f"customer-{customer_id(n)}", EVENTS_PER_CUSTOMER) for n in batch],
            )
            await _copy(
                conn,
                "customers",
                "customers",
                [
                    "customer_id",
                    "name",
                    "tier",
                    "owner_id",
                    "org_unit_id",
                    "estimated_contribution",
                    "decision_state",
                    "registered_at",
                    "updated_at",
                    "version",
                ],
                [
                    (
                        customer_id(n),
                        "历史客户",
                        "B",
                        owner,
                        "group-east-1",
                        Decimal("150000.00"),
                        last_state,
                        BASE,
                        BASE + timedelta(days=EVENTS_PER_CUSTOMER),
                        EVENTS_PER_CUSTOMER,
                    )
                    for n in batch
                ],
            )
        await conn.execute(
            "VACUUM ANALYZE customers.events, customers.streams, customers.customers"
        )
    finally:
        await conn.close()
    return customers


def _ticket_templates(requester: str) -> list[tuple[str, str, int]]:
    due = BASE + timedelta(hours=2)
    events: list[BaseModel] = [
        TicketSubmitted(
            ticket_id=_TICKET,
            ticket_kind="sample_request",
            customer_id=_CUSTOMER,
            requester_id=requester,
            product="HY-75 空压机",
            quantity=2,
            document_types=["ce_certification_report"],
            note=None,
            submitted_at=BASE,
        ),
        TicketDispatched(
            ticket_id=_TICKET,
            team_id="tech-electrical",
            owner_id="te-luo-bin",
            document_types=["ce_certification_report"],
            due_at=due,
            dispatched_at=BASE,
        ),
        TicketAnswered(
            ticket_id=_TICKET,
            team_id="tech-electrical",
            answered_by="te-luo-bin",
            answered_at=BASE + timedelta(hours=1),
            on_time=True,
        ),
        DocumentsCompleted(
            ticket_id=_TICKET,
            team_id="logistics",
            owner_id="lg-cao-yang",
            completed_at=BASE + timedelta(hours=1),
            stocking_due_at=BASE + timedelta(hours=5),
        ),
        StockingStarted(
            ticket_id=_TICKET,
            started_by="lg-cao-yang",
            started_at=BASE + timedelta(hours=2),
            on_time=True,
        ),
    ]
    return [_template(event) for event in events]


def _ticket_rows(n: int, requester: str) -> Iterator[tuple[str, tuple[Any, ...]]]:
    tid = f"tkt-hist{n:08d}"
    yield (
        "tickets",
        (
            tid,
            "sample_request",
            customer_id(n % 1000),
            requester,
            "HY-75 空压机",
            2,
            ["ce_certification_report"],
            "stocking",
            BASE,
            EVENTS_PER_TICKET,
        ),
    )


async def fill_collaboration(dsn: str, events: int, requester: str) -> int:
    """``events`` ticket events in whole tickets; returns how many tickets."""
    templates = _ticket_templates(requester)
    tickets = max(1, events // EVENTS_PER_TICKET)
    metadata = _metadata(requester)
    due = BASE + timedelta(hours=2)
    conn = await asyncpg.connect(dsn)
    try:
        step = CHUNK // EVENTS_PER_TICKET
        for first in range(0, tickets, step):
            batch = range(first, min(tickets, first + step))
            ids = [f"tkt-hist{n:08d}" for n in batch]
            rows = [
                (
                    uuid.uuid4(),
                    f"ticket-{tid}",
                    version,
                    kind,
                    schema_version,
                    data.replace(_TICKET, tid).replace(_CUSTOMER, customer_id(n % 1000)),
                    metadata,
                    BASE + timedelta(minutes=version),
                )
                for n, tid in zip(batch, ids, strict=True)
                for version, (kind, data, schema_version) in enumerate(templates, start=1)
            ]
            await _copy(conn, "collaboration", "events", _EVENT_COLUMNS, rows)
            await _copy(
                conn,
                "collaboration",
                "streams",
                ["stream_id", "version"],
                [(f"ticket-{tid}", EVENTS_PER_TICKET) for tid in ids],
            )
            await _copy(
                conn,
                "collaboration",
                "tickets",
                [
                    "ticket_id",
                    "kind",
                    "customer_id",
                    "requester_id",
                    "product",
                    "quantity",
                    "document_types",
                    "status",
                    "submitted_at",
                    "version",
                ],
                [row for n in batch for _, row in _ticket_rows(n, requester)],
            )
            await _copy(
                conn,
                "collaboration",
                "ticket_stages",
                [
                    "ticket_id",
                    "stage_key",
                    "stage",
                    "team_id",
                    "owner_id",
                    "started_at",
                    "due_at",
                    "sla_due_at",
                    "finished_at",
                    "on_time",
                ],
                [
                    stage
                    for tid in ids
                    for stage in (
                        (
                            tid,
                            "tech_answer:tech-electrical",
                            "tech_answer",
                            "tech-electrical",
                            "te-luo-bin",
                            BASE,
                            due,
                            due,
                            BASE + timedelta(hours=1),
                            True,
                        ),
                        (
                            tid,
                            "stocking_start",
                            "stocking_start",
                            "logistics",
                            "lg-cao-yang",
                            BASE + timedelta(hours=1),
                            BASE + timedelta(hours=5),
                            BASE + timedelta(hours=5),
                            BASE + timedelta(hours=2),
                            True,
                        ),
                    )
                ],
            )
            # What a ticket that once ran late leaves in the timers table: a fired timer.
            await _copy(
                conn,
                "collaboration",
                "timers",
                ["timer_id", "kind", "due_at", "payload", "fired_at", "attempts"],
                [
                    (
                        f"sla:{tid}:tech_answer:tech-electrical:{due.isoformat()}",
                        "collaboration.stage_due",
                        due,
                        json.dumps({"ticket_id": tid, "key": "tech_answer:tech-electrical"}),
                        due,
                        0,
                    )
                    for tid in ids
                ],
            )
        await conn.execute(
            "VACUUM ANALYZE collaboration.events, collaboration.streams, collaboration.tickets,"
            " collaboration.ticket_stages, collaboration.timers"
        )
    finally:
        await conn.close()
    return tickets
