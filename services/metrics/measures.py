"""The ratio measures: which fact rows count, how much each adds above and below the line.

Each measure is an SQL source over one generation's facts (``{rm}``) that yields one row
per record behind the figure: ``record_kind, record_id, customer_id, rep_id, at, num,
den`` plus the columns its dimensions read. A figure for any period, org unit or segment
is then ``sum(num) / sum(den)`` over the rows in it, so a unit's figure is the ratio of
the sums of its reps (``indicators.roll_up``) and the cause breakdown splits the same rows.
Whether a record complied or was late was decided by the events (see ``projection``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from services.metrics.indicators import Indicator

Dimension = Literal[
    "org_unit", "tier", "obstacle", "decision_state", "kind", "stage", "department", "payment_kind"
]
Shape = Literal["percent", "per_record"]


def owner_at(customer: str, at: str) -> str:
    """SQL: the customer's owner at ``at`` (or, for a record before the customer was
    registered here, the first owner)."""
    return (
        "(SELECT c.owner_id FROM {rm}.customer_changes c"
        f" WHERE c.customer_id = {customer} AND c.owner_id IS NOT NULL"
        f" ORDER BY c.at > {at}, CASE WHEN c.at <= {at} THEN -extract(epoch FROM c.at)"
        " ELSE extract(epoch FROM c.at) END LIMIT 1)"
    )


def _attribute_at(attribute: str) -> str:
    return (
        f"(SELECT c.{attribute} FROM {{rm}}.customer_changes c"
        f" WHERE c.customer_id = r.customer_id AND c.{attribute} IS NOT NULL"
        " ORDER BY c.at > r.at, CASE WHEN c.at <= r.at THEN -extract(epoch FROM c.at)"
        " ELSE extract(epoch FROM c.at) END LIMIT 1)"
    )


#: SQL of a dimension's segment for a record ``r`` (org units are mapped from rep_id).
DIMENSION_SQL: Final[dict[Dimension, str]] = {
    "org_unit": "r.rep_id",
    "tier": f"coalesce({_attribute_at('tier')}, 'unknown')",
    "decision_state": f"coalesce({_attribute_at('decision_state')}, 'none')",
    "obstacle": (
        "coalesce((SELECT p.obstacle FROM {rm}.progress_reports p"
        " WHERE p.customer_id = r.customer_id AND p.reported_at <= r.at"
        " ORDER BY p.reported_at DESC LIMIT 1), 'none')"
    ),
    "kind": "r.kind",
    "stage": "r.stage",
    "department": "r.department",
    "payment_kind": "r.kind",
}


@dataclass(frozen=True)
class Measure:
    """A figure that is a ratio of sums over records."""

    name: str
    title_en: str
    title_zh: str
    source: str
    dimensions: tuple[Dimension, ...]
    #: The action-certainty indicator it is (health judged against the policy), if any.
    indicator: Indicator | None = None
    shape: Shape = "percent"


_TASK_RECORDS = (
    "SELECT 'task' AS record_kind, task_id AS record_id, customer_id, rep_id,"
    " scheduled_at AS at, coalesce(compliant, false)::int::numeric AS num, 1::numeric AS den,"
    " 'task:' || kind AS kind, NULL::text AS stage, NULL::text AS department"
    " FROM {rm}.tasks WHERE submitted_at IS NOT NULL OR coalesce(overdue, false)"
)
_FOLLOW_UP_RECORDS = (
    "SELECT 'follow_up' AS record_kind, follow_up_id AS record_id, customer_id, rep_id,"
    " contacted_at AS at, traced::int::numeric AS num, 1::numeric AS den,"
    " 'follow_up:' || kind AS kind, NULL::text AS stage, NULL::text AS department"
    " FROM {rm}.follow_ups WHERE NOT imported"
)
_CUSTOMER_DIMENSIONS: tuple[Dimension, ...] = ("org_unit", "tier", "obstacle", "decision_state")

TRACE = Measure(
    "trace",
    "process trace rate",
    "过程留痕率",
    f"{_FOLLOW_UP_RECORDS} UNION ALL {_TASK_RECORDS}",
    (*_CUSTOMER_DIMENSIONS, "kind"),
    indicator="trace",
)
ON_TIME = Measure(
    "on_time",
    "collaboration on-time rate",
    "协同准时率",
    "SELECT 'stage' AS record_kind, s.ticket_id || ' ' || s.stage_key AS record_id,"
    " t.customer_id, t.requester_id AS rep_id, coalesce(s.finished_at, s.due_at) AS at,"
    " (s.finished_at IS NOT NULL AND coalesce(s.on_time, false))::int::numeric AS num,"
    " 1::numeric AS den, NULL::text AS kind, s.stage, coalesce(s.team_id, 'sales') AS department"
    " FROM {rm}.stages s LEFT JOIN {rm}.tickets t USING (ticket_id)"
    " WHERE s.finished_at IS NOT NULL OR coalesce(s.timed_out, false)",
    ("org_unit", "stage", "department", "tier"),
    indicator="on_time",
)
DAILY_REPORT = Measure(
    "daily_report_validity",
    "daily-report validity",
    "日报有效率",
    _TASK_RECORDS,
    (*_CUSTOMER_DIMENSIONS, "kind"),
)
NEXT_ACTIONS = Measure(
    "next_actions_on_time",
    "next actions completed on time",
    "下次必做动作按时完成率",
    "SELECT 'next_action' AS record_kind, customer_id || ' ' || due_at AS record_id,"
    " customer_id, owner_id AS rep_id, due_at AS at,"
    " (completed_at IS NOT NULL AND coalesce(on_time, false))::int::numeric AS num,"
    " 1::numeric AS den, action_kind AS kind, NULL::text AS stage, NULL::text AS department"
    " FROM {rm}.next_actions WHERE completed_at IS NOT NULL OR coalesce(overdue, false)",
    (*_CUSTOMER_DIMENSIONS, "kind"),
)
SUPPORT_ANSWERS = Measure(
    "support_answered_on_time",
    "progress reports answered in time",
    "进度报告按时答复率",
    "SELECT 'progress_report' AS record_kind, report_id AS record_id, customer_id, rep_id,"
    " reported_at AS at, coalesce(answered_on_time, false)::int::numeric AS num,"
    " 1::numeric AS den, obstacle AS kind, NULL::text AS stage, NULL::text AS department"
    " FROM {rm}.progress_reports"
    " WHERE answered_at IS NOT NULL OR coalesce(answer_overdue, false)",
    ("org_unit", "tier", "kind"),
)
COLLECTION_RATE = Measure(
    "collection_rate",
    "collection rate",
    "回款率",
    "SELECT 'payment' AS record_kind, payment_id AS record_id, customer_id,"
    f" {owner_at('p.customer_id', 'p.received_at')} AS rep_id, received_at AS at,"
    " amount AS num, 0::numeric AS den, kind, NULL::text AS stage, NULL::text AS department"
    " FROM {rm}.payments p UNION ALL"
    " SELECT 'invoice', invoice_id, customer_id,"
    f" {owner_at('i.customer_id', 'i.due_at')}, due_at, 0::numeric, amount, NULL, NULL, NULL"
    " FROM {rm}.invoices i",
    ("org_unit", "tier"),
)
NATURAL_SHARE = Measure(
    "natural_collection_share",
    "natural-collection share",
    "自然回款占比",
    "SELECT 'payment' AS record_kind, payment_id AS record_id, customer_id,"
    f" {owner_at('p.customer_id', 'p.received_at')} AS rep_id, received_at AS at,"
    " CASE WHEN kind = 'natural' THEN amount ELSE 0 END AS num, amount AS den, kind,"
    " NULL::text AS stage, NULL::text AS department FROM {rm}.payments p",
    ("org_unit", "tier", "payment_kind"),
)
FIRST_ORDER_MARGIN = Measure(
    "first_order_margin",
    "new-customer first-order margin",
    "新客首单毛利",
    "SELECT 'order' AS record_kind, order_id AS record_id, customer_id,"
    f" {owner_at('o.customer_id', 'o.placed_at')} AS rep_id, placed_at AS at,"
    " gross_margin AS num, amount AS den, NULL::text AS kind, NULL::text AS stage,"
    " NULL::text AS department FROM (SELECT *, row_number() OVER"
    " (PARTITION BY customer_id ORDER BY placed_at, order_id) AS nth FROM {rm}.orders) o"
    " WHERE nth = 1",
    ("org_unit", "tier"),
)

RATIO_MEASURES: Final[dict[str, Measure]] = {
    m.name: m
    for m in (
        TRACE,
        ON_TIME,
        DAILY_REPORT,
        NEXT_ACTIONS,
        SUPPORT_ANSWERS,
        COLLECTION_RATE,
        NATURAL_SHARE,
        FIRST_ORDER_MARGIN,
    )
}
