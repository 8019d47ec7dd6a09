"""The metrics service's facts: one table per kind of record, each column merged one way.

Every figure is computed from these tables at query time, so a new cut (a period, an org
unit, a dimension of the cause breakdown) needs no new projection. A projection turns an
event into :class:`Change` values (pure, see ``projection``); each column says how a
change merges into what is there:

- ``set``: the latest value wins (written by one event type only);
- ``max`` / ``min``: the greater / smaller value wins (later contacts, first starts);
- ``add``: the values add up (counters).

All but ``set`` are commutative, and ``set`` columns each have a single writer whose
events arrive in one stream's order, so the same events give the same facts whatever
order the four source streams interleave in, and a rebuild from history equals the live
tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from contracts.base import IntegrationEvent

Merge = Literal["set", "max", "min", "add"]


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    merge: Merge = "set"


@dataclass(frozen=True, eq=False)  # one object per table: identity is equality (and fast)
class FactTable:
    """A table of facts: its key columns, its other columns and the indexes queries need."""

    name: str
    key: tuple[Column, ...]
    columns: tuple[Column, ...]
    indexes: tuple[str, ...] = ()
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in (*self.key, *self.columns)})

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return (*self.key, *self.columns)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.key)

    def column(self, name: str) -> Column:
        return self._by_name[name]


@dataclass(frozen=True, slots=True)
class Change:
    """Merge ``values`` into the row of ``table`` with ``key`` (creating it if missing)."""

    table: FactTable
    key: tuple[object, ...]
    values: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class EventMeta:
    """What the envelope adds to an event's payload: its id and when it was recorded."""

    event_id: UUID
    occurred_at: datetime


#: How each event type changes the facts (see ``projection``).
Projections = dict[type[IntegrationEvent], Callable[[Any, EventMeta], list[Change]]]


def _cols(spec: str) -> tuple[Column, ...]:
    """``"name type[:merge], ..."`` -> columns; keeps the declarations below readable."""
    columns = []
    for part in spec.split(","):
        name, kind = part.split()
        sql_type, _, merge = kind.partition(":")
        columns.append(Column(name, sql_type, merge or "set"))  # type: ignore[arg-type]
    return tuple(columns)


def _table(name: str, key: str, columns: str, *indexes: str) -> FactTable:
    return FactTable(name, _cols(key), _cols(columns), indexes)


#: Each customer event's effect on the customer's attributes, one row per event: the
#: state at an instant is the latest non-null value of each attribute at or before it.
CUSTOMER_CHANGES = _table(
    "customer_changes",
    "event_id uuid",
    "customer_id text, at timestamptz, owner_id text, tier text, contribution numeric,"
    " name text, decision_state text",
    "customer_id, at",
)
#: What the attention list needs: contacts, the stale basis, red flags and their updates.
CUSTOMER_FLAGS = _table(
    "customer_flags",
    "customer_id text",
    "registered_at timestamptz:min, last_contact_at timestamptz:max,"
    " stale_basis timestamptz:max, stale_detected_at timestamptz:max,"
    " red_flagged_at timestamptz:max, next_action_committed_at timestamptz:max",
)
FOLLOW_UPS = _table(
    "follow_ups",
    "follow_up_id text",
    "customer_id text, rep_id text, kind text, contacted_at timestamptz, traced boolean,"
    " imported boolean",
    "contacted_at",
)
TASKS = _table(
    "tasks",
    "task_id text",
    "customer_id text, rep_id text, kind text, scheduled_at timestamptz,"
    " submitted_at timestamptz:max, compliant boolean:max, overdue boolean:max",
    "scheduled_at",
)
CONCESSIONS = _table(
    "concessions",
    "task_id text, concession_pct numeric",
    "customer_id text, rep_id text, exceeded_at timestamptz:min, decision text,"
    " decided_by text, decided_at timestamptz:max",
    "exceeded_at",
)
NEXT_ACTIONS = _table(
    "next_actions",
    "customer_id text, due_at timestamptz",
    "owner_id text, action_kind text, completed_at timestamptz:max, on_time boolean:max,"
    " overdue boolean:max",
    "due_at",
)
PROGRESS_REPORTS = _table(
    "progress_reports",
    "report_id text",
    "customer_id text, rep_id text, supervisor_id text, key_action text, obstacle text,"
    " reported_at timestamptz, answered_at timestamptz:max, answered_on_time boolean:max,"
    " answer_overdue boolean:max",
    "customer_id, reported_at",
)
TICKETS = _table(
    "tickets",
    "ticket_id text",
    "customer_id text, requester_id text, kind text, product text, submitted_at timestamptz,"
    " receipt_confirmed_at timestamptz:max, stars integer, rated_at timestamptz:max",
    "receipt_confirmed_at",
)
#: One row per SLA stage of a ticket (one tech_answer stage per tech group). The pause
#: counters add up ``supplied_at - requested_at`` over the info requests as two
#: commutative additions, so no projection ever has to read a row first.
STAGES = _table(
    "stages",
    "ticket_id text, stage_key text",
    "stage text, team_id text, owner_id text, started_at timestamptz:min,"
    " due_at timestamptz:max, finished_at timestamptz:max, on_time boolean:max,"
    " timed_out boolean:max, paused_seconds numeric:add, open_info_requests integer:add",
    "finished_at",
    "due_at",
)
RATINGS = _table(
    "ratings",
    "ticket_id text, team_id text",
    "stars integer, rated_by text, rated_at timestamptz",
    "rated_at",
)
TARGET_ALLOCATIONS = _table(
    "target_allocations",
    "period text, parent_id text, allocated_at timestamptz",
    "event text",
)
INVOICES = _table(
    "invoices",
    "invoice_id text",
    "customer_id text, amount numeric, issued_at timestamptz, due_at timestamptz",
    "due_at",
)
PAYMENTS = _table(
    "payments",
    "payment_id text",
    "customer_id text, invoice_id text, amount numeric, kind text, received_at timestamptz",
    "received_at",
)
ORDERS = _table(
    "orders",
    "order_id text",
    "customer_id text, amount numeric, gross_margin numeric, placed_at timestamptz",
    "customer_id, placed_at",
    "placed_at",
)

TABLES: tuple[FactTable, ...] = (
    CUSTOMER_CHANGES,
    CUSTOMER_FLAGS,
    FOLLOW_UPS,
    TASKS,
    CONCESSIONS,
    NEXT_ACTIONS,
    PROGRESS_REPORTS,
    TICKETS,
    STAGES,
    RATINGS,
    TARGET_ALLOCATIONS,
    INVOICES,
    PAYMENTS,
    ORDERS,
)
