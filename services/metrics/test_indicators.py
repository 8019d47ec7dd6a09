"""Indicators: exact ratios, "no data" instead of 0%, health at the policy's levels."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from salesops.orgdir import OrgDirectory, UnknownOrgUnit, load_org_directory
from salesops.policy import HealthThresholds
from services.metrics.indicators import (
    Amount,
    Ratio,
    health,
    median_and_p90,
    on_time,
    process_trace,
    roll_up,
    target_penetration,
)

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "org.yaml"
DEFAULTS = HealthThresholds()


@pytest.fixture(scope="module")
def directory() -> OrgDirectory:
    return load_org_directory(SAMPLE)


# --- Ratio and rounding -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "pct"),
    [
        (1, 3, "33.33"),  # 33.333...
        (2, 3, "66.67"),  # 66.666...
        (1, 8, "12.50"),  # exactly 12.5
        (Decimal("0.125"), 100, "0.13"),  # 0.125% is a half: up, not to even (0.12)
        (Decimal("94.995"), 100, "95.00"),  # 94.995% is a half: up
        (Decimal("94.994"), 100, "94.99"),
        (0, 7, "0.00"),  # real 0%: there were records, none counted
        (7, 7, "100.00"),
        (Decimal("120"), Decimal("100"), "120.00"),  # penetration can pass 100%
    ],
)
def test_pct_has_two_places_rounded_half_up(
    numerator: Amount, denominator: Amount, pct: str
) -> None:
    value = Ratio.of(numerator, denominator).pct
    assert value == Decimal(pct)
    assert str(value) == pct


def test_pct_rounds_the_exact_fraction_not_a_rounded_quotient() -> None:
    # 1/3 to 28 digits then * 100 would be fine; this one is not: n/d = 0.00005 - 1e-30
    # is 0.004999...% and must round down, though a 28-digit quotient rounds up to 0.005.
    numerator = Decimal("0.00005") - Decimal("1e-30")
    assert Ratio.of(numerator, 1).pct == Decimal("0.00")


def test_empty_denominator_is_no_data_not_zero_percent() -> None:
    empty = Ratio.of(0, 0)
    assert empty.pct is None
    assert empty.exact is None
    assert not empty.has_data
    assert health("trace", empty, DEFAULTS) == "no_data"


def test_negative_denominator_is_refused() -> None:
    with pytest.raises(ValueError, match="denominator -1 is negative"):
        Ratio.of(1, -1)


def test_ratios_add_as_sums_not_as_averages() -> None:
    # 9/10 + 1/1 = 10/11 = 90.909...%, not (90% + 100%) / 2 = 95%.
    assert (Ratio.of(9, 10) + Ratio.of(1, 1)).pct == Decimal("90.91")


# --- Health -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("indicator", "ratio", "expected"),
    [
        ("penetration", target_penetration({"r": Decimal("95")}, Decimal("100")), "healthy"),
        ("penetration", target_penetration({"r": Decimal("94.99")}, Decimal("100")), "unhealthy"),
        ("trace", process_trace(9, 10), "healthy"),  # exactly 90%
        ("trace", process_trace(899, 1000), "unhealthy"),  # 89.90%
        ("on_time", on_time(17, 20), "healthy"),  # exactly 85%
        ("on_time", on_time(84, 100), "unhealthy"),
        ("on_time", on_time(0, 0), "no_data"),
    ],
)
def test_exactly_at_the_threshold_is_healthy(indicator: str, ratio: Ratio, expected: str) -> None:
    assert health(indicator, ratio, DEFAULTS) == expected  # type: ignore[arg-type]


def test_health_is_judged_on_the_shown_percentage() -> None:
    # 94.995% shows as 95.00%; showing "95.00%" as unhealthy would contradict the dashboard.
    shown_as_95 = target_penetration({"r": Decimal("94.995")}, Decimal("100"))
    assert health("penetration", shown_as_95, DEFAULTS) == "healthy"
    shown_as_9499 = target_penetration({"r": Decimal("94.994")}, Decimal("100"))
    assert health("penetration", shown_as_9499, DEFAULTS) == "unhealthy"


def test_health_follows_the_companys_own_levels() -> None:
    lenient = HealthThresholds(trace=Decimal("80"))
    assert health("trace", process_trace(8, 10), lenient) == "healthy"
    assert health("trace", process_trace(8, 10), DEFAULTS) == "unhealthy"


# --- The three indicators ----------------------------------------------------------------


def test_target_penetration_sums_the_reps_contributions() -> None:
    # (40 + 55.5 + 0) / 100 = 95.5%
    ratio = target_penetration(
        {"rep-a": Decimal("40"), "rep-b": Decimal("55.5"), "rep-c": Decimal("0")},
        Decimal("100"),
    )
    assert ratio == Ratio(Decimal("95.5"), Decimal("100"))
    assert ratio.pct == Decimal("95.50")


@pytest.mark.parametrize("target", [None, Decimal("0")])
def test_period_without_a_target_has_no_penetration(target: Decimal | None) -> None:
    ratio = target_penetration({"rep-a": Decimal("40")}, target)
    assert ratio.pct is None
    assert health("penetration", ratio, DEFAULTS) == "no_data"


def test_no_reps_against_a_target_is_zero_percent() -> None:
    assert target_penetration({}, Decimal("500")).pct == Decimal("0.00")


def test_negative_target_is_refused() -> None:
    with pytest.raises(ValueError, match="target -1 is negative"):
        target_penetration({}, Decimal("-1"))


def test_trace_and_on_time_count_records() -> None:
    assert process_trace(45, 60) == Ratio(Decimal(45), Decimal(60))
    assert process_trace(45, 60).pct == Decimal("75.00")
    assert on_time(5, 6).pct == Decimal("83.33")  # 83.333...


@pytest.mark.parametrize(
    ("part", "whole"),
    [(11, 10), (-1, 10), (1, 0)],
)
def test_more_compliant_than_due_is_a_counting_error(part: int, whole: int) -> None:
    with pytest.raises(ValueError, match=f"compliant={part} must be between 0 and due={whole}"):
        process_trace(part, whole)
    with pytest.raises(ValueError, match="in_time="):
        on_time(part, whole)


# --- Roll-up over the sample company -----------------------------------------------------

# Process trace (compliant, due) per rep. gl-li-na, rep-huang-lei and the directors have
# no records; rep-liu-yang had nothing due.
TRACE_BY_REP: dict[str, tuple[Amount, Amount]] = {
    "rep-zhang-wei": (9, 10),
    "rep-wang-fang": (1, 1),
    "rep-liu-yang": (0, 0),
    "rep-chen-jing": (40, 50),
    "rep-yang-fan": (5, 10),
    "rep-he-zhiqiang": (17, 20),
    "rep-lin-xiaowen": (3, 4),
    "rep-left-the-company": (5, 5),  # not in the directory: under no unit
}


@pytest.mark.parametrize(
    ("unit_id", "numerator", "denominator", "pct"),
    [
        # group-east-1: zhang-wei 9/10 + wang-fang 1/1 + liu-yang 0/0 = 10/11 = 90.909..%
        # (the average of the reps' rates would be 95%).
        ("group-east-1", 10, 11, "90.91"),
        # group-east-2: chen-jing 40/50 + yang-fan 5/10 = 45/60 = 75%
        ("group-east-2", 45, 60, "75.00"),
        # group-south-1: he-zhiqiang 17/20 + lin-xiaowen 3/4 = 20/24 = 83.333..%
        ("group-south-1", 20, 24, "83.33"),
        # region-east = group-east-1 + group-east-2 = 55/71 = 77.4647..%
        ("region-east", 55, 71, "77.46"),
        ("region-south", 20, 24, "83.33"),
        # hq = 55/71 + 20/24 = 75/95 = 78.947..%; rep-left-the-company is not counted.
        ("hq", 75, 95, "78.95"),
    ],
)
def test_roll_up_is_the_ratio_of_the_sums_under_a_unit(
    directory: OrgDirectory, unit_id: str, numerator: int, denominator: int, pct: str
) -> None:
    ratio = roll_up(TRACE_BY_REP, directory, unit_id)
    assert ratio == Ratio.of(numerator, denominator)
    assert ratio.pct == Decimal(pct)


def test_roll_up_of_penetration_amounts(directory: OrgDirectory) -> None:
    # (covered, target) per rep: (60.5 + 39.5) / (50 + 50) = 100%
    amounts: dict[str, tuple[Amount, Amount]] = {
        "rep-zhang-wei": (Decimal("60.5"), Decimal("50")),
        "rep-chen-jing": (Decimal("39.5"), Decimal("50")),
        "rep-he-zhiqiang": (Decimal("1"), Decimal("0")),
    }
    assert roll_up(amounts, directory, "region-east").pct == Decimal("100.00")
    assert roll_up(amounts, directory, "hq") == Ratio(Decimal("101.0"), Decimal("100"))


def test_unit_without_records_has_no_data(directory: OrgDirectory) -> None:
    assert roll_up({}, directory, "region-south").pct is None
    assert roll_up({"rep-liu-yang": (0, 0)}, directory, "group-east-1").pct is None


def test_roll_up_of_an_unknown_unit_is_refused(directory: OrgDirectory) -> None:
    with pytest.raises(UnknownOrgUnit):
        roll_up(TRACE_BY_REP, directory, "region-north")


# --- Durations -------------------------------------------------------------------------


def minutes(*values: int) -> list[timedelta]:
    return [timedelta(minutes=value) for value in values]


def test_median_and_p90_of_ten_durations() -> None:
    # Sorted 1..10 min: median = (5 + 6) / 2 = 5.5 min; p90 rank = ceil(0.9 * 10) = 9 -> 9 min.
    assert median_and_p90(minutes(7, 3, 10, 1, 5, 9, 2, 8, 6, 4)) == (
        timedelta(minutes=5, seconds=30),
        timedelta(minutes=9),
    )


def test_median_and_p90_of_eleven_durations() -> None:
    # 1..11 min: median = 6th = 6 min; p90 rank = ceil(9.9) = 10 -> 10 min.
    assert median_and_p90(minutes(*range(11, 0, -1))) == (
        timedelta(minutes=6),
        timedelta(minutes=10),
    )


def test_p90_of_few_durations_is_the_largest() -> None:
    # n = 3: rank ceil(2.7) = 3; n = 1: rank 1.
    assert median_and_p90(minutes(10, 20, 90)) == (timedelta(minutes=20), timedelta(minutes=90))
    assert median_and_p90(minutes(42)) == (timedelta(minutes=42), timedelta(minutes=42))


def test_p90_rank_of_twenty_durations_is_eighteen() -> None:
    # ceil(0.9 * 20) = 18: exactly 90% of the values are at or below the 18th.
    assert median_and_p90(minutes(*range(1, 21)))[1] == timedelta(minutes=18)


def test_no_durations_have_no_median() -> None:
    assert median_and_p90([]) == (None, None)
