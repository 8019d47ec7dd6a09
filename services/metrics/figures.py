"""A figure as people see it: exact sums, the value shown, and its health against the policy.

Pure: the sums come from ``sums`` and ``penetration``; this module only divides, rounds
(``indicators``) and judges health, the same way for every measure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from salesops.orgdir import OrgDirectory
from salesops.policy import HealthThresholds
from services.metrics.indicators import Health, Indicator, Ratio, health, roll_up
from services.metrics.nodes import Node
from services.metrics.sums import RepSums

Shape = Literal["percent", "per_record"]


@dataclass(frozen=True)
class Figure:
    """One measure for one node and period. ``value`` is None when there is no data."""

    measure: str
    title_en: str
    title_zh: str
    node_id: str
    period: str
    numerator: Decimal
    denominator: Decimal
    shape: Shape
    value: Decimal | None
    health: Health | None
    threshold_pct: Decimal | None


def shown_value(ratio: Ratio, shape: Shape) -> Decimal | None:
    """A percentage (2 places, half up) or, per record, the plain ratio to 2 places."""
    if shape == "percent":
        return ratio.pct
    exact = ratio.exact
    if exact is None:
        return None
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def make_figure(
    *,
    measure: str,
    titles: tuple[str, str],
    node_id: str,
    period: str,
    ratio: Ratio,
    shape: Shape = "percent",
    indicator: Indicator | None = None,
    thresholds: HealthThresholds,
) -> Figure:
    return Figure(
        measure=measure,
        title_en=titles[0],
        title_zh=titles[1],
        node_id=node_id,
        period=period,
        numerator=ratio.numerator,
        denominator=ratio.denominator,
        shape=shape,
        value=shown_value(ratio, shape),
        health=None if indicator is None else health(indicator, ratio, thresholds),
        threshold_pct=None if indicator is None else getattr(thresholds, indicator),
    )


def by_person(rep_sums: RepSums) -> dict[str, tuple[Decimal, Decimal]]:
    """Sums per person, whatever the segments."""
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    for (person, _), (numerator, denominator) in rep_sums.items():
        if person is None:
            continue
        n, d = totals.get(person, (Decimal(0), Decimal(0)))
        totals[person] = (n + numerator, d + denominator)
    return totals


def ratio_of(
    directory: OrgDirectory, target: Node, per_person: Mapping[str, tuple[Decimal, Decimal]]
) -> Ratio:
    """A node's ratio: its own sums for a person, the sums of everyone under it for a unit."""
    if target.kind == "rep":
        return Ratio.of(*per_person.get(target.id, (0, 0)))
    return roll_up(per_person, directory, target.id)
