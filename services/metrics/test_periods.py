"""Periods: which day, ISO week, month or quarter an instant is in, and where it ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.metrics.periods import Period, PeriodKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def test_labels_of_each_kind() -> None:
    # 2026-03-04 is a Wednesday; its ISO week starts Monday 2026-03-02 (week 10).
    day = date(2026, 3, 4)
    labels = {kind: Period.of_day(kind, day).label for kind in ("day", "week", "month", "quarter")}
    assert labels == {
        "day": "2026-03-04",
        "week": "2026-W10",
        "month": "2026-03",
        "quarter": "2026-Q1",
    }
    assert Period.of_day("week", day).first_day == date(2026, 3, 2)


def test_iso_week_of_2026_12_31_is_week_53_of_2026() -> None:
    # 2026-01-01 is a Thursday, so 2026 has 53 ISO weeks; Thursday 2026-12-31 is in W53,
    # which runs Monday 2026-12-28 to Sunday 2027-01-03.
    week = Period.containing("week", datetime(2026, 12, 31, 12, tzinfo=SHANGHAI), SHANGHAI)
    assert week.label == "2026-W53"
    assert week.first_day == date(2026, 12, 28)
    assert week.last_day == date(2027, 1, 3)
    assert Period.of_day("week", date(2027, 1, 3)) == week
    assert week.next().label == "2027-W01"
    assert week.next().first_day == date(2027, 1, 4)


def test_early_january_can_belong_to_the_previous_iso_year() -> None:
    # Friday 2027-01-01 is in 2026-W53, but its month and quarter are 2027's.
    day = date(2027, 1, 1)
    assert Period.of_day("week", day).label == "2026-W53"
    assert Period.of_day("month", day).label == "2027-01"
    assert Period.of_day("quarter", day).label == "2027-Q1"


@pytest.mark.parametrize(
    ("day", "label", "first_day"),
    [
        (date(2026, 1, 1), "2026-Q1", date(2026, 1, 1)),
        (date(2026, 3, 31), "2026-Q1", date(2026, 1, 1)),
        (date(2026, 4, 1), "2026-Q2", date(2026, 4, 1)),
        (date(2026, 6, 30), "2026-Q2", date(2026, 4, 1)),
        (date(2026, 7, 1), "2026-Q3", date(2026, 7, 1)),
        (date(2026, 10, 1), "2026-Q4", date(2026, 10, 1)),
        (date(2026, 12, 31), "2026-Q4", date(2026, 10, 1)),
    ],
)
def test_quarters_start_in_january_april_july_and_october(
    day: date, label: str, first_day: date
) -> None:
    quarter = Period.of_day("quarter", day)
    assert (quarter.label, quarter.first_day) == (label, first_day)


def test_instant_is_read_in_the_company_time_zone() -> None:
    # 2026-03-31 17:30 UTC is 2026-04-01 01:30 in Shanghai (UTC+8): April, Q2.
    instant = datetime(2026, 3, 31, 17, 30, tzinfo=UTC)
    assert Period.containing("day", instant, SHANGHAI).label == "2026-04-01"
    assert Period.containing("quarter", instant, SHANGHAI).label == "2026-Q2"
    # ... and 2026-03-31 19:30 in Berlin (UTC+2 in summer time): still March, Q1.
    assert Period.containing("quarter", instant, BERLIN).label == "2026-Q1"


def test_shanghai_day_starts_at_1600_utc_the_day_before() -> None:
    day = Period.parse("2026-03-02")
    assert day.start(SHANGHAI) == datetime(2026, 3, 1, 16, tzinfo=UTC)
    assert day.end(SHANGHAI) == datetime(2026, 3, 2, 16, tzinfo=UTC)
    assert day.start(SHANGHAI).tzinfo is SHANGHAI


def test_edges_are_half_open() -> None:
    month = Period.parse("2026-03")
    start, end = month.start(SHANGHAI), month.end(SHANGHAI)
    assert month.contains(start, SHANGHAI)
    assert month.contains(end - timedelta(microseconds=1), SHANGHAI)
    assert not month.contains(end, SHANGHAI)
    assert Period.containing("month", end, SHANGHAI) == month.next()


def test_berlin_week_with_spring_forward_lasts_167_hours() -> None:
    # Clocks go 02:00 -> 03:00 on Sunday 2026-03-29, inside 2026-W13 (Mon 23 - Sun 29).
    week = Period.parse("2026-W13")
    start, end = week.start(BERLIN), week.end(BERLIN)
    assert start == datetime(2026, 3, 22, 23, tzinfo=UTC)  # 00:00 CET (UTC+1)
    assert end == datetime(2026, 3, 29, 22, tzinfo=UTC)  # 00:00 CEST (UTC+2)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=7 * 24 - 1)


def test_berlin_october_with_fall_back_lasts_one_hour_more() -> None:
    # Clocks go 03:00 -> 02:00 on Sunday 2026-10-25: October is 31 * 24 + 1 = 745 h long.
    month = Period.parse("2026-10")
    length = month.end(BERLIN).astimezone(UTC) - month.start(BERLIN).astimezone(UTC)
    assert length == timedelta(hours=745)
    # Shanghai has no DST: the same month is exactly 744 h.
    same_in_shanghai = month.end(SHANGHAI).astimezone(UTC) - month.start(SHANGHAI).astimezone(UTC)
    assert same_in_shanghai == timedelta(hours=744)


def test_instant_during_the_repeated_berlin_hour_is_in_the_right_day() -> None:
    # 2026-10-25 00:30 UTC is 02:30 CEST, the first of the two 02:30s that night.
    instant = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert Period.containing("day", instant, BERLIN).label == "2026-10-25"
    # 2026-10-24 21:59 UTC is 23:59 CEST on the 24th.
    assert Period.containing("day", instant - timedelta(hours=2, minutes=31), BERLIN).label == (
        "2026-10-24"
    )


@pytest.mark.parametrize(
    ("label", "previous"),
    [
        ("2026-01-01", "2025-12-31"),
        ("2026-03-01", "2026-02-28"),
        ("2024-03-01", "2024-02-29"),
        ("2027-W01", "2026-W53"),
        ("2026-W01", "2025-W52"),
        ("2026-01", "2025-12"),
        ("2026-03", "2026-02"),
        ("2026-Q1", "2025-Q4"),
        ("2026-Q3", "2026-Q2"),
    ],
)
def test_previous_period(label: str, previous: str) -> None:
    period = Period.parse(label)
    assert period.previous().label == previous
    assert period.previous().next() == period


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("day", "2026-03-02"),
        ("week", "2026-W10"),
        ("week", "2026-W53"),
        ("month", "2026-12"),
        ("quarter", "2026-Q4"),
    ],
)
def test_parse_reads_back_the_label(kind: PeriodKind, label: str) -> None:
    period = Period.parse(label)
    assert period.kind == kind
    assert period.label == label
    assert str(period) == label


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("2026-Q5", "quarter 5 is not between 1 and 4"),
        ("2026-Q0", "quarter 0 is not between 1 and 4"),
        ("2026-13", "does not exist"),
        ("2026-02-30", "does not exist"),
        ("2025-W53", "does not exist"),  # 2025 starts on a Wednesday: 52 weeks only
        ("2026-W00", "does not exist"),
        ("2026", "is not a day (2026-03-02), ISO week (2026-W10)"),
        ("March 2026", "is not a day"),
        ("2026-3", "is not a day"),
    ],
)
def test_parse_rejects_with_a_reason(label: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r"period '.*'") as error:
        Period.parse(label)
    assert reason in str(error.value)


def test_first_day_must_start_its_period() -> None:
    with pytest.raises(ValueError, match="2026-03-04 is not the first day of a week"):
        Period("week", date(2026, 3, 4))
    with pytest.raises(ValueError, match="2026-02-01 is not the first day of a quarter"):
        Period("quarter", date(2026, 2, 1))


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        Period.containing("day", datetime(2026, 3, 2, 9), SHANGHAI)
