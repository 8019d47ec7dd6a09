"""Cause breakdown: the parts of an indicator's change add up exactly to the change.

In the comments c_i = ((n1_i - n0_i) - R0 * (d1_i - d0_i)) / D1, in percentage points.
"""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest

from services.metrics.breakdown import Breakdown, Part, breakdown, exact_contributions
from services.metrics.indicators import Amount

Segments = dict[str, tuple[Amount, Amount]]


def changes(result: Breakdown) -> dict[str, Decimal | None]:
    return {part.segment: part.change_pct for part in result.parts}


def shares(result: Breakdown) -> dict[str, Decimal | None]:
    return {part.segment: part.share_of_change_pct for part in result.parts}


def test_drop_in_one_region_is_the_whole_drop() -> None:
    # R0 = (90 + 80) / 200 = 85%, R1 = (90 + 60) / 200 = 75%: -10 points.
    # c_east = (0 - 0.85 * 0) / 200 = 0; c_south = (-20 - 0.85 * 0) / 200 = -10 points.
    result = breakdown(
        {"region-east": (90, 100), "region-south": (80, 100)},
        {"region-east": (90, 100), "region-south": (60, 100)},
    )
    assert (result.before_pct, result.after_pct) == (Decimal("85.00"), Decimal("75.00"))
    assert result.total_change_pct == Decimal("-10.00")
    assert result.parts == [
        Part("region-south", Decimal("-10.00"), Decimal("100.00")),
        Part("region-east", Decimal("0.00"), Decimal("0.00")),
    ]


def test_a_weak_segment_that_grows_pulls_the_whole_down() -> None:
    # A keeps 100%, B keeps 50% but triples its volume.
    # R0 = 75 / 100 = 75%, R1 = (50 + 75) / 200 = 62.5%: -12.5 points.
    # c_A = 0; c_B = (50 - 0.75 * 100) / 200 = -25 / 200 = -12.5 points (all mix, no rate).
    result = breakdown({"A": (50, 50), "B": (25, 50)}, {"A": (50, 50), "B": (75, 150)})
    assert result.total_change_pct == Decimal("-12.50")
    assert changes(result) == {"B": Decimal("-12.50"), "A": Decimal("0.00")}


def test_offsetting_segments_and_a_new_one() -> None:
    # Before: A 30/40, B 20/60 -> R0 = 50/100 = 50%.
    # After:  A 36/40, B 8/40, C (new) 10/20 -> R1 = 54/100 = 54%: +4 points.
    # c_A = (6 - 0.5 * 0) / 100 = +6 points
    # c_B = (-12 - 0.5 * -20) / 100 = -2 points
    # c_C = (10 - 0.5 * 20) / 100 = 0 (new, at exactly the old rate)
    # Shares of +4: A 150%, B -50%, C 0%.
    result = breakdown(
        {"A": (30, 40), "B": (20, 60)},
        {"A": (36, 40), "B": (8, 40), "C": (10, 20)},
    )
    assert result.total_change_pct == Decimal("4.00")
    assert result.parts == [
        Part("A", Decimal("6.00"), Decimal("150.00")),
        Part("B", Decimal("-2.00"), Decimal("-50.00")),
        Part("C", Decimal("0.00"), Decimal("0.00")),
    ]


def test_a_weak_segment_that_disappears_lifts_the_whole() -> None:
    # R0 = (80 + 20) / 200 = 50%, R1 = 80 / 100 = 80%: +30 points.
    # c_A = 0; c_B = (-20 - 0.5 * -100) / 100 = +30 points.
    result = breakdown({"A": (80, 100), "B": (20, 100)}, {"A": (80, 100)})
    assert result.total_change_pct == Decimal("30.00")
    assert changes(result) == {"B": Decimal("30.00"), "A": Decimal("0.00")}


def test_rounded_parts_still_add_up_to_the_shown_change() -> None:
    # R0 = 0%, R1 = 3 / 300 = 1%: +1.00 point; each c_i = 1 / 300 = 0.333... points.
    # Rounded alone, 0.33 * 3 = 0.99; the largest remainder (a tie, broken by name)
    # gives A the missing hundredth. Shares 33.333...% likewise.
    result = breakdown(
        {"A": (0, 100), "B": (0, 100), "C": (0, 100)},
        {"A": (1, 100), "B": (1, 100), "C": (1, 100)},
    )
    assert result.total_change_pct == Decimal("1.00")
    assert changes(result) == {"A": Decimal("0.34"), "B": Decimal("0.33"), "C": Decimal("0.33")}
    assert shares(result) == {
        "A": Decimal("33.34"),
        "B": Decimal("33.33"),
        "C": Decimal("33.33"),
    }


def test_no_change_overall_has_parts_but_no_shares() -> None:
    # R0 = R1 = 100 / 200 = 50%; c_A = (10 - 0) / 200 = +5 points, c_B = -10 / 200 = -5.
    result = breakdown({"A": (50, 100), "B": (50, 100)}, {"A": (60, 100), "B": (40, 100)})
    assert result.total_change_pct == Decimal("0.00")
    assert changes(result) == {"A": Decimal("5.00"), "B": Decimal("-5.00")}
    assert shares(result) == {"A": None, "B": None}


@pytest.mark.parametrize(
    ("before", "after", "before_pct", "after_pct"),
    [
        ({}, {}, None, None),
        ({}, {"A": (1, 2)}, None, Decimal("50.00")),
        ({"A": (0, 0)}, {"A": (1, 2)}, None, Decimal("50.00")),
        ({"A": (1, 2)}, {"A": (0, 0), "B": (0, 0)}, Decimal("50.00"), None),
    ],
)
def test_without_data_in_either_period_the_change_is_undefined(
    before: Segments, after: Segments, before_pct: Decimal | None, after_pct: Decimal | None
) -> None:
    result = breakdown(before, after)
    assert (result.before_pct, result.after_pct) == (before_pct, after_pct)
    assert result.total_change_pct is None
    assert all(
        part.change_pct is None and part.share_of_change_pct is None for part in result.parts
    )
    assert [part.segment for part in result.parts] == sorted(before.keys() | after.keys())
    assert exact_contributions(before, after) is None


def test_negative_denominator_is_refused() -> None:
    with pytest.raises(ValueError, match="segment 'A': denominator -1 is negative"):
        breakdown({"A": (1, -1)}, {"A": (1, 1)})


def random_segments(rng: random.Random, names: list[str]) -> Segments:
    segments: Segments = {}
    for name in names:
        if rng.random() < 0.2:
            continue  # absent in this period
        denominator = Decimal(rng.randint(0, 100_000)) / 100
        numerator = denominator * Decimal(rng.randint(0, 1000)) / 1000
        segments[name] = (numerator.quantize(Decimal("0.01")), denominator)
    return segments


@pytest.mark.parametrize("seed", range(40))
def test_parts_add_up_exactly_in_random_cases(seed: int) -> None:
    rng = random.Random(seed)
    names = [f"segment-{index}" for index in range(rng.randint(1, 9))]
    before, after = random_segments(rng, names), random_segments(rng, names)
    result = breakdown(before, after)
    contributions = exact_contributions(before, after)
    if result.total_change_pct is None:
        assert contributions is None
        return
    assert contributions is not None

    # The decomposition is exact: sum c_i == R1 - R0 as fractions.
    def rate(segments: Segments) -> Fraction:
        return sum((Fraction(n) for n, _ in segments.values()), Fraction(0)) / sum(
            (Fraction(d) for _, d in segments.values()), Fraction(0)
        )

    assert sum(contributions.values(), Fraction(0)) == rate(after) - rate(before)

    # The shown parts add up to the shown change, each within a hundredth of exact.
    assert result.total_change_pct == result.after_pct - result.before_pct  # type: ignore[operator]
    assert sum((part.change_pct or Decimal(0) for part in result.parts), Decimal(0)) == (
        result.total_change_pct
    )
    for part in result.parts:
        assert part.change_pct is not None
        assert abs(Fraction(part.change_pct) - contributions[part.segment] * 100) < Fraction(1, 100)
    if rate(after) != rate(before):
        assert sum(
            (part.share_of_change_pct or Decimal(0) for part in result.parts), Decimal(0)
        ) == (Decimal("100.00"))

    # Largest exact contribution first.
    sizes = [abs(contributions[part.segment]) for part in result.parts]
    assert sizes == sorted(sizes, reverse=True)
