"""Cause breakdown: an indicator's change between two periods, split by a dimension.

An indicator is a ratio of sums, R = N / D with N = sum n_i and D = sum d_i over the
segments i of a dimension (org unit, tier, obstacle, stage, department, ...). Segment
i's contribution to the change R1 - R0 is (the shift-share / mix-rate decomposition)

    c_i = (n1_i - n0_i) / D1  -  R0 * (d1_i - d0_i) / D1
        = ((n1_i - R0 * d1_i) - (n0_i - R0 * d0_i)) / D1

i.e. the change in how far the segment's numerator is above what the old overall rate
would give its denominator. Summed over all segments:

    sum c_i = (N1 - N0) / D1 - R0 * (D1 - D0) / D1 = N1/D1 - N0/D1 - R0 + N0/D1 = R1 - R0

so the parts add up to the whole change exactly, with no residual "interaction" term to
explain away. It blames a segment both for changing its own rate and for growing while
below the old average (or shrinking while above it), which is what a falling company
figure is made of. A segment missing from one period counts as 0/0 there.

The fractions are exact; each part is then rounded to 2 places (percentage points) by
largest remainder, so the shown parts add up exactly to the shown total change, which is
the difference of the two shown percentages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import floor

from services.metrics.indicators import Amount, pct_half_up

Segments = Mapping[str, tuple[Amount, Amount]]


@dataclass(frozen=True)
class Part:
    """One segment's share of the change.

    ``change_pct``: percentage points of the total change due to the segment.
    ``share_of_change_pct``: that as a percentage of the total change (negative when the
    segment moved against the total; the shares add up to 100.00). ``None`` where
    undefined: either period without data, or a total change of exactly zero.
    """

    segment: str
    change_pct: Decimal | None
    share_of_change_pct: Decimal | None


@dataclass(frozen=True)
class Breakdown:
    """The whole change (``after_pct - before_pct``) and its parts, largest first."""

    before_pct: Decimal | None
    after_pct: Decimal | None
    total_change_pct: Decimal | None
    parts: list[Part]


def breakdown(before: Segments, after: Segments) -> Breakdown:
    """Split the change of sum(n)/sum(d) from ``before`` to ``after`` by segment.

    Values are ``segment -> (numerator, denominator)``. Without data in either period
    (total denominator 0) the change and every part are ``None``, listed by name.
    """
    old, new = _aligned(before, after)
    segments = sorted(new)
    rate_before, rate_after = _rate(old.values()), _rate(new.values())
    if rate_before is None or rate_after is None:
        before_pct = None if rate_before is None else pct_half_up(rate_before)
        after_pct = None if rate_after is None else pct_half_up(rate_after)
        return Breakdown(before_pct, after_pct, None, [Part(name, None, None) for name in segments])
    before_pct, after_pct = pct_half_up(rate_before), pct_half_up(rate_after)

    contributions = _contributions(old, new, rate_before)
    total_change_pct = after_pct - before_pct
    changes = _apportion(
        {name: value * 10_000 for name, value in contributions.items()},
        int(total_change_pct.scaleb(2)),
    )
    exact_total = rate_after - rate_before  # == sum(contributions.values()), see above
    shares: dict[str, Decimal | None] = dict.fromkeys(segments)
    if exact_total != 0:
        shares.update(
            _apportion(
                {name: value / exact_total * 10_000 for name, value in contributions.items()},
                10_000,
            )
        )
    largest_first = sorted(segments, key=lambda name: (-abs(contributions[name]), name))
    parts = [Part(name, changes[name], shares[name]) for name in largest_first]
    return Breakdown(before_pct, after_pct, total_change_pct, parts)


def exact_contributions(before: Segments, after: Segments) -> dict[str, Fraction] | None:
    """Each segment's exact c_i (as a ratio, 1 = 100 points); ``None`` without data."""
    old, new = _aligned(before, after)
    rate_before, rate_after = _rate(old.values()), _rate(new.values())
    if rate_before is None or rate_after is None:
        return None
    return _contributions(old, new, rate_before)


def _contributions(
    old: Mapping[str, tuple[Fraction, Fraction]],
    new: Mapping[str, tuple[Fraction, Fraction]],
    rate_before: Fraction,
) -> dict[str, Fraction]:
    denominator_after = sum((d for _, d in new.values()), Fraction(0))
    return {
        name: ((n1 - old[name][0]) - rate_before * (d1 - old[name][1])) / denominator_after
        for name, (n1, d1) in new.items()
    }


Exact = dict[str, tuple[Fraction, Fraction]]


def _aligned(before: Segments, after: Segments) -> tuple[Exact, Exact]:
    """Both periods as exact fractions over the same segments; a missing one is 0/0."""
    segments = before.keys() | after.keys()
    old = {name: _exact(name, before.get(name, (0, 0))) for name in segments}
    new = {name: _exact(name, after.get(name, (0, 0))) for name in segments}
    return old, new


def _exact(name: str, value: tuple[Amount, Amount]) -> tuple[Fraction, Fraction]:
    numerator, denominator = value
    if denominator < 0:
        raise ValueError(f"segment {name!r}: denominator {denominator} is negative")
    return Fraction(numerator), Fraction(denominator)


def _rate(values: Iterable[tuple[Fraction, Fraction]]) -> Fraction | None:
    pairs = list(values)
    denominator = sum((d for _, d in pairs), Fraction(0))
    if denominator == 0:
        return None
    return sum((n for n, _ in pairs), Fraction(0)) / denominator


def _apportion(exact_hundredths: Mapping[str, Fraction], total: int) -> dict[str, Decimal]:
    """Round each value to a whole hundredth so they add up to ``total`` hundredths.

    Largest remainder: floor everything, then give one hundredth each to the values that
    lost most by it. ``total`` is within about one hundredth per value of the exact sum;
    the wrap-around only matters for pathological inputs (negative numerators).
    """
    floors = {name: floor(value) for name, value in exact_hundredths.items()}
    each, extra = divmod(total - sum(floors.values()), len(floors))
    by_remainder = sorted(exact_hundredths, key=lambda n: (floors[n] - exact_hundredths[n], n))
    for rank, name in enumerate(by_remainder):
        floors[name] += each + (1 if rank < extra else 0)
    return {name: Decimal(value).scaleb(-2) for name, value in floors.items()}
