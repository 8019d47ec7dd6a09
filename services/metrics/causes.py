"""The cause tree: why a figure moved between two periods, split by one dimension.

The sums of the two periods are split by segment (child org units, tiers, obstacles,
stages, departments...) and handed to ``breakdown``, whose parts add up exactly to the
whole change. For the org-unit dimension the segments are the node's children, each
summing the people below it; for penetration a target that changed is a cause of its own
(the ``target`` segment), so the parts still add up to the change people see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from salesops.problems import DomainError
from services.metrics import penetration
from services.metrics.breakdown import Breakdown, breakdown
from services.metrics.measures import RATIO_MEASURES, Dimension
from services.metrics.nodes import Node, child_towards, children, people_of
from services.metrics.periods import Period
from services.metrics.queries import PENETRATION, MetricsQueries
from services.metrics.sums import RepSums, Window, sums

Segments = dict[str, tuple[Decimal, Decimal]]
PENETRATION_DIMENSIONS: tuple[Dimension, ...] = ("org_unit", "tier")


def dimensions_of(measure: str) -> tuple[Dimension, ...]:
    if measure == PENETRATION:
        return PENETRATION_DIMENSIONS
    return RATIO_MEASURES[measure].dimensions


@dataclass(frozen=True)
class CauseTree:
    measure: str
    node: Node
    dimension: Dimension
    before: Period
    after: Period
    segments_before: Segments
    segments_after: Segments
    result: Breakdown


def _add(into: Segments, segment: str, numerator: Decimal, denominator: Decimal) -> None:
    n, d = into.get(segment, (Decimal(0), Decimal(0)))
    into[segment] = (n + numerator, d + denominator)


def split(
    queries: MetricsQueries, target: Node, dimension: Dimension, rep_sums: RepSums
) -> Segments:
    """A measure's sums per rep (and segment) as segments of ``target``."""
    people = set(people_of(queries.directory, target))
    segments: Segments = {}
    for (person, segment), (numerator, denominator) in rep_sums.items():
        if person not in people:
            continue
        if dimension == "org_unit":
            assert person is not None
            key = child_towards(queries.directory, target, person)
        else:
            key = segment or "none"
        if key is not None:
            _add(segments, key, numerator, denominator)
    return segments


async def _penetration_segments(
    queries: MetricsQueries, rm: str, target: Node, dimension: Dimension, period: Period
) -> Segments:
    labels = penetration.target_period_labels(period)
    books = await penetration.target_books(queries.pool, rm, labels)
    as_of = queries.scope(period).as_of
    covered = await penetration.coverage_at(queries.pool, rm, as_of, by_tier=dimension == "tier")
    people = set(people_of(queries.directory, target))
    target_amount = penetration.target_in_force(books, period, target.id) or Decimal(0)
    segments: Segments = {}
    if dimension == "tier":
        for (owner, tier), amount in covered.items():
            if owner in people:
                _add(segments, tier or "unknown", amount, Decimal(0))
        _add(segments, penetration.TARGET_SEGMENT, Decimal(0), target_amount)
        return segments
    child_targets = Decimal(0)
    for child in children(queries.directory, target):
        amount = penetration.target_in_force(books, period, child.id) or Decimal(0)
        child_targets += amount
        _add(segments, child.id, Decimal(0), amount)
    for (owner, _), amount in covered.items():
        if owner in people and (child_id := child_towards(queries.directory, target, owner)):
            _add(segments, child_id, amount, Decimal(0))
    if target_amount != child_targets:  # a target not (or not yet) split among the children
        _add(segments, penetration.TARGET_SEGMENT, Decimal(0), target_amount - child_targets)
    return segments


async def cause_tree(
    queries: MetricsQueries,
    target: Node,
    measure: str,
    dimension: Dimension,
    before: Period,
    after: Period,
) -> CauseTree:
    """Split the change of ``measure`` at ``target`` from ``before`` to ``after``."""
    if dimension not in dimensions_of(measure):
        known = ", ".join(dimensions_of(measure))
        raise DomainError(f"{measure} splits by {known}, not {dimension}", field="dimension")
    if dimension == "org_unit" and target.kind == "rep":
        raise DomainError("a rep has no org units below; split by another dimension", field="unit")
    rm = await queries.live_schema()
    found: Mapping[str, Segments]
    if measure == PENETRATION:
        found = {
            p.label: await _penetration_segments(queries, rm, target, dimension, p)
            for p in (before, after)
        }
    else:
        windows = [Window.of(p, queries.policy.timezone) for p in (before, after)]
        grouped = None if dimension == "org_unit" else dimension
        per_period = await sums(queries.pool, rm, RATIO_MEASURES[measure], windows, grouped)
        found = {
            label: split(queries, target, dimension, rep_sums)
            for label, rep_sums in per_period.items()
        }
    old, new = found[before.label], found[after.label]
    return CauseTree(measure, target, dimension, before, after, old, new, breakdown(old, new))
