"""Business hours: the time during which the clock of a stage SLA runs.

A stage may count its limit in working time only ("answer within 2 working hours").
Working time is defined on the local calendar: a working day that is not a holiday has
ranges of wall-clock time, each counted as the real time from the first instant the local
clocks show its start to the first instant they show its end. Across a daylight-saving
change this is what people experience: a range the clocks jump into begins when they land,
and a repeated hour is worked twice. Results are aware datetimes in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator, field_validator

from salesops.policy import TimeZone

_MINUTES_PER_DAY = 24 * 60
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_RANGE = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-4]):([0-5]\d)")


def _clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, order=True)
class WorkingHours:
    """One daily range of working wall-clock time, in minutes after local midnight."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < self.end_minute <= _MINUTES_PER_DAY:
            raise ValueError(f"{self} must end after it starts, within one day")

    def __str__(self) -> str:
        return f"{_clock_text(self.start_minute)}-{_clock_text(self.end_minute)}"


def _to_working_hours(value: object) -> WorkingHours:
    if isinstance(value, WorkingHours):
        return value
    if isinstance(value, str) and (match := _RANGE.fullmatch(value.strip())):
        start = int(match[1]) * 60 + int(match[2])
        end = int(match[3]) * 60 + int(match[4])
        if end > _MINUTES_PER_DAY:
            raise ValueError(f"{value!r} ends after 24:00, the end of the day")
        if end <= start:
            raise ValueError(
                f"{value!r} must end after it starts"
                " (split a range over midnight in two, e.g. '22:00-24:00' and '00:00-06:00')"
            )
        return WorkingHours(start, end)
    raise ValueError(f"{value!r} is not a range of working hours like '09:00-18:00'")


HoursRange = Annotated[
    WorkingHours, PlainValidator(_to_working_hours), PlainSerializer(str, return_type=str)
]
Holidays = Annotated[frozenset[date], PlainSerializer(sorted, return_type=list[date])]


class BusinessCalendar(BaseModel):
    """Working weekdays (ISO, 1 = Monday), daily working hours and holidays in a time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    hours: tuple[HoursRange, ...] = (WorkingHours(9 * 60, 18 * 60),)
    holidays: Holidays = frozenset()
    timezone: TimeZone

    @field_validator("working_days")
    @classmethod
    def _check_working_days(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if not days:
            raise ValueError("at least one working day is needed")
        for day in days:
            if not 1 <= day <= 7:
                raise ValueError(f"{day} is not an ISO weekday (1 = Monday ... 7 = Sunday)")
            if days.count(day) > 1:
                raise ValueError(f"weekday {day} is listed more than once")
        return tuple(sorted(days))

    @field_validator("hours", mode="before")
    @classmethod
    def _one_range_as_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, ranges: tuple[WorkingHours, ...]) -> tuple[WorkingHours, ...]:
        if not ranges:
            raise ValueError("at least one range of working hours is needed")
        ordered = tuple(sorted(ranges))
        for earlier, later in pairwise(ordered):
            if later.start_minute < earlier.end_minute:
                raise ValueError(f"working hours {earlier} and {later} overlap")
        return ordered

    @property
    def is_continuous(self) -> bool:
        """Whether every instant is working time (24/7, no holidays)."""
        return (
            self.working_days == (1, 2, 3, 4, 5, 6, 7)
            and self.hours == (WorkingHours(0, _MINUTES_PER_DAY),)
            and not self.holidays
        )

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The first instant at which ``duration`` of working time has passed since ``start``.

        Counting begins at the next working instant when ``start`` is outside working
        hours; a limit used up at closing time is due at closing time, not next morning.
        """
        if duration < _ZERO:
            raise ValueError(f"cannot add a negative working time ({duration})")
        start = in_utc(start)
        if self.is_continuous or duration == _ZERO:
            return start + duration
        left = duration
        day = self._local_date(start) - _ONE_DAY  # a late fall-back can reach across midnight
        while True:
            for begin, end in self._segments(day):
                if end <= start:
                    continue
                begin = max(begin, start)
                if left <= end - begin:
                    return begin + left
                left -= end - begin
            day += _ONE_DAY

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        a, b = in_utc(a), in_utc(b)
        if b < a:
            return -self.working_time_between(b, a)
        if self.is_continuous:
            return b - a
        total = _ZERO
        day, last = self._local_date(a) - _ONE_DAY, self._local_date(b) + _ONE_DAY
        while day <= last:
            for begin, end in self._segments(day):
                overlap = min(end, b) - max(begin, a)
                if overlap > _ZERO:
                    total += overlap
            day += _ONE_DAY
        return total

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.timezone).date()

    def _segments(self, day: date) -> list[tuple[datetime, datetime]]:
        if day.isoweekday() not in self.working_days or day in self.holidays:
            return []
        return [
            (
                self._first_instant_showing(day, hours.start_minute),
                self._first_instant_showing(day, hours.end_minute),
            )
            for hours in self.hours
        ]

    def _first_instant_showing(self, day: date, minute: int) -> datetime:
        """The first instant at which the local clocks show ``day`` at ``minute`` or later."""
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        instant = wall.replace(tzinfo=self.timezone).astimezone(UTC)  # fold=0: first occurrence
        if instant.astimezone(self.timezone).replace(tzinfo=None) == wall:
            return instant
        # The clocks jumped over ``wall``: the instant they landed lies between the readings
        # of ``wall`` with the offsets before and after the jump (whole seconds in tzdata).
        other = wall.replace(tzinfo=self.timezone, fold=1).astimezone(UTC)
        landed_offset = max(instant, other).astimezone(self.timezone).utcoffset()
        low, high = (int(moment.timestamp()) for moment in sorted((instant, other)))
        while high - low > 1:
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, self.timezone).utcoffset() == landed_offset:
                high = middle
            else:
                low = middle
        return datetime.fromtimestamp(high, UTC)


def in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is refused (its instant is unknown)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime")
    return moment.astimezone(UTC)


ALWAYS = BusinessCalendar(
    working_days=(1, 2, 3, 4, 5, 6, 7),
    hours=(WorkingHours(0, _MINUTES_PER_DAY),),
    timezone=ZoneInfo("UTC"),
)
"""Round-the-clock time: what a stage without business hours counts."""


def add_counted_time(
    calendar: BusinessCalendar | None, start: datetime, duration: timedelta
) -> datetime:
    """``calendar.add_working_time``, with ``None`` meaning round-the-clock time."""
    return (ALWAYS if calendar is None else calendar).add_working_time(start, duration)


def counted_time_between(calendar: BusinessCalendar | None, a: datetime, b: datetime) -> timedelta:
    """``calendar.working_time_between``, with ``None`` meaning round-the-clock time."""
    return (ALWAYS if calendar is None else calendar).working_time_between(a, b)
