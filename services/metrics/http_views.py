"""What the metrics API returns: every figure with its exact sums, as JSON for people and BI.

Money and ratios are decimal strings (never floats); a figure without data has
``value: null`` and ``health: "no_data"``, never 0%.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from contracts.fields import DecimalString
from services.metrics.activity import Concessions, DepartmentRating, DurationStats
from services.metrics.breakdown import Part
from services.metrics.figures import Figure
from services.metrics.nodes import Node


class NodeView(BaseModel):
    id: str = Field(description="Org unit id (hq, region, group) or person id (rep).")
    kind: Literal["org_unit", "rep"]
    name: str
    parent_id: str | None

    @classmethod
    def of(cls, node: Node) -> NodeView:
        return cls(id=node.id, kind=node.kind, name=node.name, parent_id=node.parent_id)


class FigureView(BaseModel):
    measure: str = Field(examples=["trace"])
    title_en: str = Field(examples=["process trace rate"])
    title_zh: str = Field(examples=["过程留痕率"])
    node_id: str = Field(examples=["hq"])
    period: str = Field(examples=["2026-03"])
    numerator: DecimalString = Field(description="Exact sum above the line.", examples=["45"])
    denominator: DecimalString = Field(description="Exact sum below the line.", examples=["50"])
    shape: Literal["percent", "per_record"] = Field(
        description="percent: value is a percentage; per_record: value is a plain ratio."
    )
    value: DecimalString | None = Field(
        description="The figure shown, 2 places, half up; null when there is no data.",
        examples=["90.00"],
    )
    health: Literal["healthy", "unhealthy", "no_data"] | None = Field(
        description="Against the policy's threshold; null for measures without one."
    )
    threshold_pct: DecimalString | None = Field(examples=["90"])

    @classmethod
    def of(cls, figure: Figure) -> FigureView:
        return cls.model_validate(figure, from_attributes=True)


class IndicatorsView(BaseModel):
    node: NodeView
    period: str
    starts_at: datetime
    ends_at: datetime
    figures: list[FigureView]


class DrillDownLine(BaseModel):
    node: NodeView
    figure: FigureView


class DrillDownView(BaseModel):
    period: str
    measure: str
    lines: list[DrillDownLine] = Field(description="The node first, then its children.")


class TrendView(BaseModel):
    node: NodeView
    measure: str
    points: list[FigureView]


class ActivityView(BaseModel):
    node: NodeView
    period: str
    a_tier_follow_ups_per_customer: FigureView
    next_actions_on_time: FigureView
    daily_report_validity: FigureView
    support_answered_on_time: FigureView
    concessions: Concessions
    sample_delivery: DurationStats
    tech_answer: DurationStats
    tech_answer_by_team: dict[str, DurationStats]
    department_ratings: list[DepartmentRating]


class HealthDashboardView(BaseModel):
    node: NodeView
    period: str
    collection_rate: FigureView
    natural_collection_share: FigureView
    payments_by_kind: dict[str, DecimalString]
    repurchase_cycle: DurationStats
    industry_repurchase_cycle_seconds: int
    first_order_margin: FigureView


class CausePartView(BaseModel):
    segment: str
    label: str
    change_pct: DecimalString | None = Field(description="Points of the whole change due to it.")
    share_of_change_pct: DecimalString | None = Field(
        description="Its share of the change (sum 100)."
    )
    before: tuple[DecimalString, DecimalString]
    after: tuple[DecimalString, DecimalString]
    records_before: str | None = Field(description="The records behind it, before.")
    records_after: str | None = Field(description="The records behind it, after.")

    @classmethod
    def of(cls, part: Part, **extra: object) -> CausePartView:
        return cls(
            segment=part.segment,
            change_pct=part.change_pct,
            share_of_change_pct=part.share_of_change_pct,
            **extra,
        )


class CausesView(BaseModel):
    measure: str
    node: NodeView
    dimension: str
    before: str
    after: str
    before_value: DecimalString | None
    after_value: DecimalString | None
    total_change_pct: DecimalString | None
    parts: list[CausePartView]


class RecordView(BaseModel):
    record_kind: str
    record_id: str
    customer_id: str | None
    rep_id: str | None
    at: datetime | None
    numerator: DecimalString
    denominator: DecimalString
    segment: str | None
    detail: dict[str, str | None] = Field(default_factory=dict)
    service: str | None = Field(description="The service that owns the record.")
    path: str | None = Field(description="Where that service shows it.")
    url: str | None = Field(description="Full link, when the service's address is configured.")


class RecordsView(BaseModel):
    measure: str
    node: NodeView
    period: str
    records: list[RecordView]


class UnitTreeView(BaseModel):
    nodes: list[NodeView] = Field(description="The nodes the caller may see, parents first.")
    default: str


class MeasureView(BaseModel):
    name: str
    title_en: str
    title_zh: str
    shape: Literal["percent", "per_record"]
    indicator: Literal["penetration", "trace", "on_time"] | None = Field(
        description="The action-certainty indicator it is, health judged against the policy."
    )
    dimensions: list[str] = Field(description="What GET /causes can split it by.")


class NamesView(BaseModel):
    people: dict[str, str] = Field(description="Person id -> name, everyone in the directory.")
    teams: dict[str, str] = Field(description="Team id -> name.")
