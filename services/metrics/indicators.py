"""The three action-certainty indicators as exact ratios, their health, and roll-ups.

Pure arithmetic, no I/O. Every indicator is kept as numerator and denominator, never
as a bare percentage, so that a group, region or HQ figure is the ratio of the sums of
its reps (an average of the reps' percentages would let a rep with one record weigh as
much as one with a hundred). An empty denominator means "no data", never 0%.
The healthy levels live in ``salesops.policy.HealthThresholds`` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import Literal

from salesops.orgdir import OrgDirectory
from salesops.policy import HealthThresholds

Indicator = Literal["penetration", "trace", "on_time"]
Health = Literal["healthy", "unhealthy", "no_data"]
Amount = int | Decimal


def pct_half_up(value: Fraction) -> Decimal:
    """``value`` (a ratio, 1 = 100%) as a percentage with 2 places, halves away from zero.

    Computed on the exact fraction: dividing Decimals first would round twice.
    """
    hundredths = abs(value) * 10_000
    whole = floor(hundredths)
    if hundredths - whole >= Fraction(1, 2):
        whole += 1
    return Decimal(-whole if value < 0 else whole).scaleb(-2)


@dataclass(frozen=True)
class Ratio:
    """An indicator's numerator over its denominator, exact."""

    numerator: Decimal
    denominator: Decimal

    def __post_init__(self) -> None:
        if self.denominator < 0:
            raise ValueError(f"denominator {self.denominator} is negative")

    @classmethod
    def of(cls, numerator: Amount, denominator: Amount) -> Ratio:
        """A ratio from counts or amounts."""
        return cls(Decimal(numerator), Decimal(denominator))

    @property
    def has_data(self) -> bool:
        return self.denominator != 0

    @property
    def exact(self) -> Fraction | None:
        """The ratio as an exact fraction (1 = 100%); ``None`` without data."""
        if not self.has_data:
            return None
        return Fraction(self.numerator) / Fraction(self.denominator)

    @property
    def pct(self) -> Decimal | None:
        """The percentage to 2 places (ROUND_HALF_UP); ``None`` without data, never 0%."""
        exact = self.exact
        return None if exact is None else pct_half_up(exact)

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.numerator + other.numerator, self.denominator + other.denominator)


def health(indicator: Indicator, ratio: Ratio, thresholds: HealthThresholds) -> Health:
    """``healthy`` when the shown percentage reaches the indicator's level (inclusive).

    Judged on the 2-place percentage people see, so "95.00%" is never shown as unhealthy.
    """
    pct = ratio.pct
    if pct is None:
        return "no_data"
    return "healthy" if thresholds.is_healthy(indicator, pct) else "unhealthy"


def target_penetration(
    contributions_by_rep: Mapping[str, Decimal], target: Decimal | None
) -> Ratio:
    """Estimated contributions of the customers each rep owns, summed, over the target.

    No target (``None`` or 0) for the period means no data. Above 100% is possible.
    """
    if target is not None and target < 0:
        raise ValueError(f"target {target} is negative")
    covered = sum(contributions_by_rep.values(), Decimal(0))
    return Ratio(covered, target if target is not None else Decimal(0))


def process_trace(compliant: int, due: int) -> Ratio:
    """Follow-up and task records with compliant evidence over all such records due."""
    _check_part_of_whole("compliant", compliant, "due", due)
    return Ratio.of(compliant, due)


def on_time(in_time: int, finished_or_overdue: int) -> Ratio:
    """Collaboration stages done in time over stages finished or already overdue.

    A stage still open and not yet late is counted nowhere: it may still make it.
    """
    _check_part_of_whole("in_time", in_time, "finished_or_overdue", finished_or_overdue)
    return Ratio.of(in_time, finished_or_overdue)


def roll_up(
    values_by_rep: Mapping[str, tuple[Amount, Amount]], directory: OrgDirectory, unit_id: str
) -> Ratio:
    """The ratio of the summed numerators and denominators of everyone under ``unit_id``.

    ``unit_id`` is an org unit (HQ, region, group); a rep's own figure is
    ``Ratio.of(*values_by_rep[rep_id])``. People missing from ``values_by_rep`` add
    nothing; entries for people not in the directory belong to no unit.
    Raises ``UnknownOrgUnit`` for an unknown ``unit_id``.
    """
    total = Ratio(Decimal(0), Decimal(0))
    for person in directory.people_under(unit_id):
        if person.id in values_by_rep:
            total += Ratio.of(*values_by_rep[person.id])
    return total


def median_and_p90(
    durations: Sequence[timedelta],
) -> tuple[timedelta | None, timedelta | None]:
    """Median (mean of the middle two for an even count) and nearest-rank 90th percentile.

    Nearest rank: the smallest value with at least 90% of the values at or below it,
    i.e. the ``ceil(0.9 n)``-th smallest, always an observed duration. ``(None, None)``
    when there are no durations.
    """
    if not durations:
        return None, None
    ordered = sorted(durations)
    count = len(ordered)
    middle = count // 2
    median = ordered[middle] if count % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    rank = -(-9 * count // 10)  # ceil(0.9 n) in integer arithmetic
    return median, ordered[rank - 1]


def _check_part_of_whole(part_name: str, part: int, whole_name: str, whole: int) -> None:
    if not 0 <= part <= whole:
        raise ValueError(f"{part_name}={part} must be between 0 and {whole_name}={whole}")
