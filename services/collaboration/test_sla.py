"""Stage SLA clocks: business hours, pauses, board status and escalation, at fixed instants."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from services.collaboration.sla import (
    ALWAYS,
    BoardStatus,
    BusinessCalendar,
    StageClock,
    board_status,
    escalation_due_times,
    level_at,
    overdue_by,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
TWO_HOURS = timedelta(hours=2)
ONE_SECOND = timedelta(seconds=1)

OFFICE = BusinessCalendar.model_validate(
    {"working_days": [1, 2, 3, 4, 5], "hours": ["09:00-18:00"], "timezone": "Asia/Shanghai"}
)
WITH_LUNCH = BusinessCalendar.model_validate(
    {
        "hours": ["09:00-12:00", "13:30-18:00"],
        "holidays": ["2026-10-01", "2026-10-02", "2026-05-01"],
        "timezone": "Asia/Shanghai",
    }
)
BERLIN_OFFICE = BusinessCalendar.model_validate(
    {"hours": ["08:00-12:00", "13:00-17:00"], "holidays": ["2026-04-03"], "timezone": BERLIN}
)
# Every day all day, but not continuous (a holiday), so the day-by-day path runs.
BERLIN_EVERY_HOUR = BusinessCalendar.model_validate(
    {
        "working_days": [1, 2, 3, 4, 5, 6, 7],
        "hours": ["00:00-24:00"],
        "holidays": ["2030-01-01"],
        "timezone": "Europe/Berlin",
    }
)


def shanghai(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


# -- business hours ------------------------------------------------------------------------


def test_ticket_submitted_friday_1750_with_2h_business_limit_is_due_monday_1050() -> None:
    clock = StageClock(TWO_HOURS, OFFICE, started_at=shanghai(2026, 9, 25, 17, 50))

    assert clock.due_at() == shanghai(2026, 9, 28, 10, 50)


def test_ticket_due_monday_is_not_overdue_on_saturday() -> None:
    clock = StageClock(TWO_HOURS, OFFICE, started_at=shanghai(2026, 9, 25, 17, 50))
    saturday = shanghai(2026, 9, 26, 15, 0)

    assert not clock.is_overdue(saturday)
    assert board_status(clock, saturday) == "on_track"
    assert clock.elapsed(saturday) == timedelta(minutes=10)


def test_limit_used_up_at_closing_time_is_due_at_closing_time() -> None:
    clock = StageClock(TWO_HOURS, OFFICE, started_at=shanghai(2026, 9, 25, 16, 0))

    assert clock.due_at() == shanghai(2026, 9, 25, 18, 0)
    assert board_status(clock, shanghai(2026, 9, 26, 10, 0)) == "overdue"
    assert overdue_by(clock, shanghai(2026, 9, 26, 10, 0)) == timedelta(0)
    assert overdue_by(clock, shanghai(2026, 9, 28, 9, 0, 1)) == ONE_SECOND


def test_start_outside_working_hours_counts_from_the_next_working_instant() -> None:
    assert OFFICE.add_working_time(shanghai(2026, 9, 26, 10), timedelta(hours=1)) == shanghai(
        2026, 9, 28, 10
    )
    assert OFFICE.add_working_time(shanghai(2026, 9, 28, 7), timedelta(minutes=30)) == shanghai(
        2026, 9, 28, 9, 30
    )
    assert OFFICE.add_working_time(shanghai(2026, 9, 26, 10), timedelta(0)) == shanghai(
        2026, 9, 26, 10
    )


def test_a_holiday_is_skipped() -> None:
    national_day = OFFICE.model_copy(update={"holidays": frozenset({date(2026, 10, 1)})})
    wednesday_five_pm = shanghai(2026, 9, 30, 17, 0)

    assert national_day.add_working_time(wednesday_five_pm, TWO_HOURS) == shanghai(
        2026, 10, 2, 10, 0
    )
    assert national_day.working_time_between(wednesday_five_pm, shanghai(2026, 10, 2, 10)) == (
        TWO_HOURS
    )


def test_lunch_break_is_not_working_time() -> None:
    eleven = shanghai(2026, 9, 28, 11, 0)

    assert WITH_LUNCH.add_working_time(eleven, TWO_HOURS) == shanghai(2026, 9, 28, 14, 30)
    assert WITH_LUNCH.add_working_time(eleven, timedelta(hours=1)) == shanghai(2026, 9, 28, 12)
    assert WITH_LUNCH.working_time_between(eleven, shanghai(2026, 9, 28, 13, 0)) == (
        timedelta(hours=1)
    )


def test_weekend_of_the_spring_dst_change_in_berlin() -> None:
    # Friday 16:00 CET + 2 working hours: 1 h on Friday, 1 h from Monday 08:00 CEST.
    due = BERLIN_OFFICE.add_working_time(berlin(2026, 3, 27, 16, 0), TWO_HOURS)

    assert due == berlin(2026, 3, 30, 9, 0)
    assert due == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_days_of_the_dst_changes_have_23_and_25_hours() -> None:
    spring, autumn = berlin(2026, 3, 29), berlin(2026, 10, 25)
    one_day = timedelta(days=1)

    assert BERLIN_EVERY_HOUR.working_time_between(spring, spring + one_day) == timedelta(hours=23)
    assert BERLIN_EVERY_HOUR.working_time_between(autumn, autumn + one_day) == timedelta(hours=25)
    assert BERLIN_EVERY_HOUR.add_working_time(berlin(2026, 3, 28, 12), timedelta(hours=24)) == (
        berlin(2026, 3, 29, 13)
    )
    assert ALWAYS.add_working_time(berlin(2026, 3, 28, 12), timedelta(hours=24)) == (
        berlin(2026, 3, 29, 13)
    )


def test_working_hours_the_clocks_jump_into_begin_when_they_land() -> None:
    night = BusinessCalendar.model_validate(
        {"working_days": [7], "hours": ["02:30-04:00"], "timezone": "Europe/Berlin"}
    )
    early = BusinessCalendar.model_validate(
        {"working_days": [7], "hours": ["01:00-04:00"], "timezone": "Europe/Berlin"}
    )

    assert night.working_time_between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == (
        timedelta(hours=1)
    )
    assert night.add_working_time(berlin(2026, 3, 29), timedelta(minutes=1)) == datetime(
        2026, 3, 29, 1, 1, tzinfo=UTC
    )
    assert early.working_time_between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == (
        timedelta(hours=2)
    )
    assert early.working_time_between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == (
        timedelta(hours=4)
    )


def test_a_year_of_working_time_ends_on_the_expected_friday_evening() -> None:
    monday_nine = shanghai(2026, 1, 5, 9, 0)
    fifty_two_weeks = 52 * timedelta(hours=45)

    due = OFFICE.add_working_time(monday_nine, fifty_two_weeks)

    assert due == shanghai(2027, 1, 1, 18, 0)
    assert OFFICE.working_time_between(monday_nine, due) == fifty_two_weeks


def test_round_the_clock_counts_real_elapsed_time() -> None:
    start = berlin(2026, 3, 28, 12, 0)

    assert ALWAYS.working_time_between(start, berlin(2026, 3, 29, 12, 0)) == timedelta(hours=23)
    assert StageClock(TWO_HOURS, None, start).due_at() == start + TWO_HOURS


def test_add_then_measure_gives_back_the_duration() -> None:
    rng = random.Random(20260925)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    for calendar in (WITH_LUNCH, BERLIN_OFFICE, BERLIN_EVERY_HOUR):
        for _ in range(150):
            start = year_start + timedelta(seconds=rng.randrange(365 * 86400))
            duration = timedelta(seconds=rng.randrange(1, 120 * 3600))

            due = calendar.add_working_time(start, duration)

            assert calendar.working_time_between(start, due) == duration
            # the first such instant: a microsecond earlier the duration is not reached
            assert calendar.working_time_between(start, due - timedelta(microseconds=1)) < duration


def test_working_time_between_matches_a_minute_by_minute_count() -> None:
    rng = random.Random(7)
    for calendar in (WITH_LUNCH, BERLIN_OFFICE):
        for _ in range(30):
            a = datetime(2026, 3, 20, tzinfo=UTC) + timedelta(minutes=rng.randrange(60 * 24 * 50))
            b = a + timedelta(minutes=rng.randrange(60 * 24 * 4))

            assert calendar.working_time_between(a, b) == _count_minutes(calendar, a, b)


def _count_minutes(calendar: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    minutes = 0
    moment = a
    while moment < b:
        local = moment.astimezone(calendar.timezone)
        minute_of_day = local.hour * 60 + local.minute
        if (
            local.isoweekday() in calendar.working_days
            and local.date() not in calendar.holidays
            and any(r.start_minute <= minute_of_day < r.end_minute for r in calendar.hours)
        ):
            minutes += 1
        moment += timedelta(minutes=1)
    return timedelta(minutes=minutes)


def test_working_time_between_is_additive_and_signed() -> None:
    a, b, c = shanghai(2026, 9, 25, 10), shanghai(2026, 9, 26, 3), shanghai(2026, 9, 29, 12, 15)

    total = WITH_LUNCH.working_time_between(a, c)

    assert WITH_LUNCH.working_time_between(a, b) + WITH_LUNCH.working_time_between(b, c) == total
    assert WITH_LUNCH.working_time_between(c, a) == -total


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        OFFICE.add_working_time(datetime(2026, 9, 25, 10), TWO_HOURS)
    with pytest.raises(ValueError, match="no time zone"):
        StageClock(TWO_HOURS, None, datetime(2026, 9, 25, 10))


# -- loading a calendar ----------------------------------------------------------------------


def test_calendar_loads_from_the_policy_yaml_and_dumps_back() -> None:
    data = yaml.safe_load(
        """
        working_days: [1, 2, 3, 4, 5]
        hours: ["13:30-18:00", "09:00-12:00"]
        holidays: [2026-10-01, "2026-10-02"]
        timezone: Asia/Shanghai
        """
    )

    calendar = BusinessCalendar.model_validate(data)

    assert calendar.holidays == frozenset({date(2026, 10, 1), date(2026, 10, 2)})
    assert calendar.model_dump(mode="json") == {
        "working_days": [1, 2, 3, 4, 5],
        "hours": ["09:00-12:00", "13:30-18:00"],
        "holidays": ["2026-10-01", "2026-10-02"],
        "timezone": "Asia/Shanghai",
    }
    assert BusinessCalendar.model_validate(calendar.model_dump(mode="json")) == calendar


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"hours": ["09:00-12:30", "12:00-18:00"]}, "09:00-12:30 and 12:00-18:00 overlap"),
        ({"hours": ["18:00-09:00"]}, "must end after it starts"),
        ({"hours": ["09:00-09:00"]}, "must end after it starts"),
        ({"hours": ["9-18"]}, "is not a range of working hours"),
        ({"hours": ["20:00-24:30"]}, "ends after 24:00"),
        ({"hours": []}, "at least one range"),
        ({"working_days": [1, 8]}, "8 is not an ISO weekday"),
        ({"working_days": [0]}, "0 is not an ISO weekday"),
        ({"working_days": [1, 1]}, "listed more than once"),
        ({"working_days": []}, "at least one working day"),
        ({"holidays": ["2026-13-01"]}, "holidays"),
        ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"lunch": "12:00-13:00"}, "lunch"),
    ],
)
def test_a_wrong_calendar_is_refused_with_the_reason(
    changes: dict[str, object], reason: str
) -> None:
    data: dict[str, object] = {"timezone": "Asia/Shanghai", **changes}

    with pytest.raises(ValidationError, match=reason):
        BusinessCalendar.model_validate(data)


def test_a_calendar_needs_a_time_zone() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        BusinessCalendar.model_validate({"hours": ["09:00-18:00"]})


def test_a_calendar_may_end_at_midnight_and_take_a_single_range() -> None:
    calendar = BusinessCalendar.model_validate({"hours": "20:00-24:00", "timezone": "UTC"})

    assert [str(hours) for hours in calendar.hours] == ["20:00-24:00"]


# -- the stage clock -------------------------------------------------------------------------

DISPATCHED = datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI)


def test_answer_at_1_59_59_is_on_time_and_at_2_00_01_is_overdue() -> None:
    clock = StageClock(TWO_HOURS, None, DISPATCHED)

    assert not clock.is_overdue(DISPATCHED + TWO_HOURS - ONE_SECOND)
    assert not clock.is_overdue(DISPATCHED + TWO_HOURS)
    assert clock.is_overdue(DISPATCHED + TWO_HOURS + ONE_SECOND)
    assert clock.remaining(DISPATCHED + TWO_HOURS) == timedelta(0)
    assert clock.remaining(DISPATCHED + TWO_HOURS + ONE_SECOND) == -ONE_SECOND


def test_pause_for_missing_info_keeps_the_time_left() -> None:
    hour = timedelta(hours=1)
    running = StageClock(TWO_HOURS, None, DISPATCHED)

    waiting = running.pause(DISPATCHED + hour)
    resumed = waiting.resume(DISPATCHED + 4 * hour)

    assert waiting.due_at() is None
    assert waiting.remaining(DISPATCHED + 3 * hour) == hour
    assert resumed.due_at() == DISPATCHED + 5 * hour
    assert resumed.elapsed(DISPATCHED + 4 * hour + timedelta(minutes=30)) == 90 * timedelta(
        minutes=1
    )
    assert resumed.paused == ((DISPATCHED + hour, DISPATCHED + 4 * hour),)


def test_pauses_in_business_hours_count_only_working_time() -> None:
    started = shanghai(2026, 9, 25, 16, 0)  # Friday
    clock = StageClock(TWO_HOURS, OFFICE, started).pause(shanghai(2026, 9, 25, 17, 0))

    resumed = clock.resume(shanghai(2026, 9, 28, 10, 0))  # Monday

    assert resumed.due_at() == shanghai(2026, 9, 28, 11, 0)
    assert resumed.elapsed(shanghai(2026, 9, 28, 10, 30)) == timedelta(minutes=90)


def test_limit_reached_before_a_pause_stays_due_at_that_instant() -> None:
    clock = StageClock(TWO_HOURS, None, DISPATCHED).pause(DISPATCHED + 3 * TWO_HOURS)

    resumed = clock.resume(DISPATCHED + 4 * TWO_HOURS)

    assert resumed.due_at() == DISPATCHED + TWO_HOURS
    assert overdue_by(resumed, DISPATCHED + 5 * TWO_HOURS) == 3 * TWO_HOURS


def test_pausing_a_paused_clock_or_resuming_a_running_one_is_refused() -> None:
    running = StageClock(TWO_HOURS, None, DISPATCHED)
    waiting = running.pause(DISPATCHED + ONE_SECOND)

    with pytest.raises(ValueError, match="paused already"):
        waiting.pause(DISPATCHED + TWO_HOURS)
    with pytest.raises(ValueError, match="nothing to resume"):
        running.resume(DISPATCHED + TWO_HOURS)
    with pytest.raises(ValueError, match="before the clock runs"):
        running.pause(DISPATCHED - ONE_SECOND)
    with pytest.raises(ValueError, match="ends before it begins"):
        waiting.resume(DISPATCHED)
    with pytest.raises(ValueError, match="longer than zero"):
        StageClock(timedelta(0), None, DISPATCHED)


# -- the board -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "status"),
    [
        (timedelta(minutes=94, seconds=48), "on_track"),  # 79%
        (timedelta(minutes=96), "at_risk"),  # 80%
        (TWO_HOURS, "at_risk"),  # due: still on time
        (TWO_HOURS + timedelta(microseconds=1), "overdue"),
    ],
)
def test_board_status_at_79_and_80_percent_at_due_and_just_after(
    used: timedelta, status: BoardStatus
) -> None:
    clock = StageClock(TWO_HOURS, None, DISPATCHED)

    assert board_status(clock, DISPATCHED + used) == status


def test_board_shows_a_stage_waiting_for_sales_as_paused() -> None:
    clock = StageClock(TWO_HOURS, None, DISPATCHED).pause(DISPATCHED + 3 * TWO_HOURS)

    assert board_status(clock, DISPATCHED + 4 * TWO_HOURS) == "paused"


def test_at_risk_ratio_is_configurable_and_checked() -> None:
    clock = StageClock(TWO_HOURS, None, DISPATCHED)
    half_way = DISPATCHED + timedelta(hours=1)

    assert board_status(clock, half_way, at_risk_ratio=Decimal("0.5")) == "at_risk"
    assert board_status(clock, half_way, at_risk_ratio=Decimal("0.51")) == "on_track"
    with pytest.raises(ValueError, match="at_risk_ratio"):
        board_status(clock, half_way, at_risk_ratio=Decimal("1.5"))


def test_overdue_by_is_zero_until_due_then_counted_time_past_the_limit() -> None:
    clock = StageClock(TWO_HOURS, None, DISPATCHED)

    assert overdue_by(clock, DISPATCHED + TWO_HOURS) == timedelta(0)
    assert overdue_by(clock, DISPATCHED + 3 * TWO_HOURS) == 2 * TWO_HOURS


# -- escalation ------------------------------------------------------------------------------


def test_escalation_due_times_round_the_clock() -> None:
    assert escalation_due_times(DISPATCHED, TWO_HOURS, None, 3) == [
        DISPATCHED,
        DISPATCHED + TWO_HOURS,
        DISPATCHED + 2 * TWO_HOURS,
    ]
    assert escalation_due_times(DISPATCHED, TWO_HOURS, None, 0) == []


def test_escalation_due_times_in_business_hours_wait_for_working_time() -> None:
    friday_five_pm = shanghai(2026, 9, 25, 17, 0)

    assert escalation_due_times(friday_five_pm, TWO_HOURS, WITH_LUNCH, 4) == [
        friday_five_pm,
        shanghai(2026, 9, 28, 10, 0),  # Monday: 1 h on Friday, 1 h from 09:00
        shanghai(2026, 9, 28, 12, 0),
        shanghai(2026, 9, 28, 15, 30),  # after the lunch break
    ]


def test_level_counts_missed_windows_and_keeps_growing_past_the_chain() -> None:
    def level(after: timedelta) -> int:
        return level_at(DISPATCHED, TWO_HOURS, None, DISPATCHED + after)

    assert level(timedelta(0)) == 0
    assert level(timedelta(microseconds=1)) == 1
    assert level(TWO_HOURS) == 1
    assert level(TWO_HOURS + ONE_SECOND) == 2
    assert level(5 * TWO_HOURS + ONE_SECOND) == 6


def test_level_is_the_number_of_escalation_deadlines_passed() -> None:
    rng = random.Random(42)
    first_due = shanghai(2026, 9, 25, 18, 0)  # at closing time on a Friday
    deadlines = escalation_due_times(first_due, TWO_HOURS, WITH_LUNCH, 60)
    probes = [d + offset for d in deadlines[:20] for offset in (-ONE_SECOND, timedelta(0))]
    probes += [d + timedelta(microseconds=1) for d in deadlines[:20]]
    probes += [first_due + timedelta(seconds=rng.randrange(20 * 86400)) for _ in range(200)]

    for now in probes:
        expected = sum(1 for deadline in deadlines if now > deadline)
        assert level_at(first_due, TWO_HOURS, WITH_LUNCH, now) == expected
