"""HTTP adapter of the metrics service: every figure as JSON (OpenAPI at /docs) for BI tools."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request

from salesops.auth import Actor, current_actor
from salesops.inputs import MAX_OFFSET, day_in_range
from salesops.problems import DomainError
from services.metrics import activity, board, health_board, nodes
from services.metrics.causes import cause_tree, dimensions_of
from services.metrics.http_views import (
    ActivityView,
    CausePartView,
    CausesView,
    DrillDownLine,
    DrillDownView,
    FigureView,
    HealthDashboardView,
    IndicatorsView,
    MeasureView,
    NamesView,
    NodeView,
    RecordsView,
    TrendView,
    UnitTreeView,
)
from services.metrics.measures import RATIO_MEASURES, Dimension
from services.metrics.periods import Period, PeriodKind
from services.metrics.queries import (
    PENETRATION,
    PENETRATION_TITLES,
    MetricsQueries,
    Scope,
    known_measures,
)
from services.metrics.records import records_behind

router = APIRouter(tags=["metrics"])
ActorDep = Annotated[Actor, Depends(current_actor)]
UnitQuery = Annotated[
    str | None, Query(description="Org unit id or person id; default: what you see first.")
]
PeriodQuery = Annotated[
    str | None, Query(description="2026-03-02, 2026-W10, 2026-03 or 2026-Q1; default: this month.")
]


async def queries_of(request: Request) -> MetricsQueries:
    found: MetricsQueries = request.app.state.service.queries
    return found


QueriesDep = Annotated[MetricsQueries, Depends(queries_of)]


def period_of(q: MetricsQueries, label: str | None, field: str = "period") -> Period:
    if label is None:
        return Period.containing("month", q.clock.now(), q.policy.timezone)
    try:
        chosen = Period.parse(label)
    except ValueError as exc:
        raise DomainError(str(exc), field=field) from None
    # Year 1 or 9999 parse, but their windows and trends overflow the calendar.
    if not day_in_range(chosen.first_day):
        raise DomainError(f"period {label!r} is outside the years 1900 to 2999", field=field)
    return chosen


def measure_name(name: str) -> str:
    if name not in known_measures():
        raise DomainError(
            f"no measure {name!r}; known: {', '.join(known_measures())}", field="measure"
        )
    return name


@router.get("/indicators", response_model=IndicatorsView, summary="The three indicators")
async def indicators(
    actor: ActorDep, q: QueriesDep, unit: UnitQuery = None, period: PeriodQuery = None
) -> IndicatorsView:
    target = nodes.visible_node(q.directory, actor, unit)
    chosen = period_of(q, period)
    window = q.scope(chosen).window
    figures = await q.indicators(target, chosen)
    return IndicatorsView(
        node=NodeView.of(target),
        period=chosen.label,
        starts_at=window.starts,
        ends_at=window.ends,
        figures=[FigureView.of(f) for f in figures],
    )


@router.get("/figures/{measure}", response_model=FigureView, summary="Any measure of one node")
async def figure(
    measure: str, actor: ActorDep, q: QueriesDep, unit: UnitQuery = None, period: PeriodQuery = None
) -> FigureView:
    target = nodes.visible_node(q.directory, actor, unit)
    chosen = period_of(q, period)
    found = await q.figures(measure_name(measure), [target], [chosen])
    return FigureView.of(found[(target.id, chosen.label)])


@router.get(
    "/figures/{measure}/drill-down",
    response_model=DrillDownView,
    summary="A measure for a node and each of its child units and reps",
)
async def drill_down(
    measure: str, actor: ActorDep, q: QueriesDep, unit: UnitQuery = None, period: PeriodQuery = None
) -> DrillDownView:
    target = nodes.visible_node(q.directory, actor, unit)
    chosen = period_of(q, period)
    figures = await q.drill_down(target, chosen, measure_name(measure))
    lines = [
        DrillDownLine(node=NodeView.of(n), figure=FigureView.of(f))
        for n, f in zip([target, *nodes.children(q.directory, target)], figures, strict=True)
    ]
    return DrillDownView(period=chosen.label, measure=measure, lines=lines)


@router.get("/figures/{measure}/trend", response_model=TrendView, summary="A measure over periods")
async def trend(
    measure: str,
    actor: ActorDep,
    q: QueriesDep,
    unit: UnitQuery = None,
    kind: PeriodKind = "month",
    count: Annotated[int, Query(ge=1, le=36)] = 6,
    until: PeriodQuery = None,
) -> TrendView:
    target = nodes.visible_node(q.directory, actor, unit)
    last = None if until is None else period_of(q, until, "until")
    if last is not None and last.kind != kind:
        raise DomainError(f"{last.label} is a {last.kind}, not a {kind}", field="until")
    periods = q.recent(kind, count, last)
    figures = await q.trend(target, measure_name(measure), periods)
    return TrendView(
        node=NodeView.of(target), measure=measure, points=[FigureView.of(f) for f in figures]
    )


@router.get(
    "/activity", response_model=ActivityView, summary="Follow-ups, concessions, speed, ratings"
)
async def activity_figures(
    actor: ActorDep, q: QueriesDep, unit: UnitQuery = None, period: PeriodQuery = None
) -> ActivityView:
    target = nodes.visible_node(q.directory, actor, unit)
    chosen = period_of(q, period)
    scope, rm = q.scope(chosen), await q.live_schema()
    key = ("activity", rm, target.id, chosen.label, scope.as_of)
    return await q.shared.get(key, partial(_activity, q, target, chosen, scope, rm))


async def _activity(
    q: MetricsQueries, target: nodes.Node, chosen: Period, scope: Scope, rm: str
) -> ActivityView:
    people = nodes.people_of(q.directory, target)
    ratios = {
        name: (await q.figures(name, [target], [chosen]))[(target.id, chosen.label)]
        for name in ("next_actions_on_time", "daily_report_validity", "support_answered_on_time")
    }
    a_tier = q.per_record_figure(
        "a_tier_follow_ups_per_customer",
        ("A-tier follow-ups per customer", "A类客户人均跟进次数"),
        target,
        chosen,
        await activity.a_tier_follow_ups(q.pool, rm, scope.window, scope.as_of, people),
    )
    concessions = await activity.concessions(q.pool, rm, scope.window, people)
    tech = await activity.tech_answer_times(q.pool, rm, scope.window, people)
    ratings = await activity.department_ratings(
        q.pool, rm, scope.window, people, q.policy.quality_alert.below_stars
    )
    return ActivityView(
        node=NodeView.of(target),
        period=chosen.label,
        a_tier_follow_ups_per_customer=FigureView.of(a_tier),
        **{name: FigureView.of(f) for name, f in ratios.items()},
        concessions=concessions,
        sample_delivery=await activity.sample_delivery(q.pool, rm, scope.window, people),
        tech_answer=tech.pop(None),
        tech_answer_by_team={str(team): stats for team, stats in tech.items()},
        department_ratings=ratings,
    )


@router.get("/health-dashboard", response_model=HealthDashboardView, summary="Business context")
async def health_dashboard(
    actor: ActorDep, q: QueriesDep, unit: UnitQuery = None, period: PeriodQuery = None
) -> HealthDashboardView:
    target = nodes.visible_node(q.directory, actor, unit)
    chosen = period_of(q, period)
    scope, rm = q.scope(chosen), await q.live_schema()
    people = nodes.people_of(q.directory, target)
    found: dict[str, Any] = {
        name: FigureView.of((await q.figures(name, [target], [chosen]))[(target.id, chosen.label)])
        for name in ("collection_rate", "natural_collection_share", "first_order_margin")
    }
    industry = q.policy.health_dashboard.industry_repurchase_cycle
    return HealthDashboardView(
        node=NodeView.of(target),
        period=chosen.label,
        payments_by_kind=await health_board.payments_by_kind(q.pool, rm, scope.window, people),
        repurchase_cycle=await health_board.repurchase_cycle(q.pool, rm, scope.window, people),
        industry_repurchase_cycle_seconds=int(industry.total_seconds()),
        **found,
    )


def _records_link(measure: str, node_id: str, period: str, dimension: str, segment: str) -> str:
    query: dict[str, str] = {"measure": measure, "unit": node_id, "period": period}
    if dimension != "org_unit":
        query |= {"dimension": dimension, "segment": segment}
    return f"/records?{urlencode(query)}"


@router.get("/causes", response_model=CausesView, summary="Why a figure moved: the cause tree")
async def causes(
    actor: ActorDep,
    q: QueriesDep,
    measure: str,
    dimension: Dimension,
    before: str,
    after: str,
    unit: UnitQuery = None,
) -> CausesView:
    target = nodes.visible_node(q.directory, actor, unit)
    old, new = period_of(q, before, "before"), period_of(q, after, "after")
    tree = await cause_tree(q, target, measure_name(measure), dimension, old, new)
    zero = (0, 0)
    parts = []
    for part in tree.result.parts:
        by_unit = dimension == "org_unit"
        node_id = part.segment if by_unit else target.id
        linkable = not by_unit or _is_node(q, part.segment)
        parts.append(
            CausePartView.of(
                part,
                label=_label(q, part.segment) if by_unit else part.segment,
                before=tree.segments_before.get(part.segment, zero),
                after=tree.segments_after.get(part.segment, zero),
                records_before=_records_link(measure, node_id, old.label, dimension, part.segment)
                if linkable
                else None,
                records_after=_records_link(measure, node_id, new.label, dimension, part.segment)
                if linkable
                else None,
            )
        )
    return CausesView(
        measure=measure,
        node=NodeView.of(target),
        dimension=dimension,
        before=old.label,
        after=new.label,
        before_value=tree.result.before_pct,
        after_value=tree.result.after_pct,
        total_change_pct=tree.result.total_change_pct,
        parts=parts,
    )


def _is_node(q: MetricsQueries, segment: str) -> bool:
    try:
        nodes.node(q.directory, segment)
    except DomainError:
        return False
    return True


def _label(q: MetricsQueries, segment: str) -> str:
    return nodes.node(q.directory, segment).name if _is_node(q, segment) else segment


@router.get("/records", response_model=RecordsView, summary="The records behind a figure")
async def records(
    request: Request,
    actor: ActorDep,
    q: QueriesDep,
    measure: str,
    unit: UnitQuery = None,
    period: PeriodQuery = None,
    dimension: Dimension | None = None,
    segment: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> RecordsView:
    target = nodes.visible_node(q.directory, actor, unit)
    chosen = period_of(q, period)
    if (dimension is None) != (segment is None):
        raise DomainError("give dimension and segment together", field="segment")
    found = await records_behind(
        q,
        request.app.state.service.links,
        measure_name(measure),
        target,
        chosen,
        dimension,
        segment,
        limit,
        offset,
    )
    return RecordsView(
        measure=measure, node=NodeView.of(target), period=chosen.label, records=found
    )


@router.get(
    "/sla-board", response_model=list[board.OpenStage], summary="Open stages, overdue first"
)
async def sla_board(
    actor: ActorDep, q: QueriesDep, unit: UnitQuery = None
) -> list[board.OpenStage]:
    # Like the collaboration service's board, open to everyone; ``unit`` narrows it to the
    # tickets of that node's people.
    requesters = None
    if unit is not None:
        requesters = nodes.people_of(q.directory, nodes.visible_node(q.directory, actor, unit))
    rm, now = await q.live_schema(), q.shared.instant(q.clock.now())
    key = ("sla-board", rm, now, None if requesters is None else tuple(requesters))
    stages = await q.shared.get(key, partial(board.open_stages, q.pool, rm, now, requesters))
    return stages


@router.get(
    "/attention",
    response_model=list[board.AttentionCustomer],
    summary="Stale and red-flagged customers",
)
async def attention(
    actor: ActorDep, q: QueriesDep, unit: UnitQuery = None
) -> list[board.AttentionCustomer]:
    target = nodes.visible_node(q.directory, actor, unit)
    found = await board.attention(
        q.pool, await q.live_schema(), nodes.people_of(q.directory, target)
    )
    return found


@router.get("/measures", response_model=list[MeasureView], summary="Every measure and its splits")
async def measures(actor: ActorDep) -> list[MeasureView]:
    found = [
        MeasureView(
            name=PENETRATION,
            title_en=PENETRATION_TITLES[0],
            title_zh=PENETRATION_TITLES[1],
            shape="percent",
            indicator="penetration",
            dimensions=list(dimensions_of(PENETRATION)),
        )
    ]
    for m in RATIO_MEASURES.values():
        found.append(
            MeasureView(
                name=m.name,
                title_en=m.title_en,
                title_zh=m.title_zh,
                shape=m.shape,
                indicator=m.indicator,
                dimensions=list(m.dimensions),
            )
        )
    return found


@router.get("/names", response_model=NamesView, summary="Names of people and teams, by id")
async def names(actor: ActorDep, q: QueriesDep) -> NamesView:
    return NamesView(
        people={p.id: p.name for p in q.directory.people},
        teams={t.id: t.name for t in q.directory.teams},
    )


@router.get("/units", response_model=UnitTreeView, summary="The org units and reps you may see")
async def units(actor: ActorDep, q: QueriesDep) -> UnitTreeView:
    first = nodes.default_node(q.directory, actor)
    return UnitTreeView(
        nodes=[NodeView.of(n) for n in nodes.subtree(q.directory, first)], default=first.id
    )
