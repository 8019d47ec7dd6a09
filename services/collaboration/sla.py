"""The clock of a collaboration stage: when it is due, how it shows on the board, escalation.

Pure time arithmetic: instants come in as aware datetimes and go out in UTC. A stage
counts its limit in round-the-clock time, or in working time when it has a
:class:`BusinessCalendar`. Its clock can pause (tech waits for information from sales)
and resumes with the time it had left. A stage is on time up to and including its due
instant and overdue strictly after it (fire the check at ``salesops.timers.just_after``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from services.collaboration.calendar import (
    ALWAYS,
    BusinessCalendar,
    WorkingHours,
    add_counted_time,
    counted_time_between,
    in_utc,
)

__all__ = [
    "ALWAYS",
    "AT_RISK_RATIO",
    "BoardStatus",
    "BusinessCalendar",
    "StageClock",
    "WorkingHours",
    "add_counted_time",
    "board_status",
    "counted_time_between",
    "escalation_due_times",
    "level_at",
    "overdue_by",
]

BoardStatus = Literal["on_track", "at_risk", "overdue", "paused"]

#: Share of the limit after which a running stage shows as at risk on the board (inclusive).
AT_RISK_RATIO = Decimal("0.8")
PauseInterval = tuple[datetime, datetime | None]

_ZERO = timedelta(0)


@dataclass(frozen=True)
class StageClock:
    """The SLA clock of one stage: started at ``started_at``, stopped during ``paused``.

    ``paused`` holds the pause intervals in order; the last may be open (paused now).
    Counted time is the working time since ``started_at`` minus the paused working time.
    Instants are kept in UTC.
    """

    limit: timedelta
    calendar: BusinessCalendar | None
    started_at: datetime
    paused: tuple[PauseInterval, ...] = ()

    def __post_init__(self) -> None:
        if self.limit <= _ZERO:
            raise ValueError(f"the limit of a stage must be longer than zero, not {self.limit}")
        started_at = in_utc(self.started_at)
        paused: list[PauseInterval] = []
        running_since = started_at
        for number, (begin, end) in enumerate(self.paused, start=1):
            begin = in_utc(begin)
            if begin < running_since:
                raise ValueError(f"pause {number} begins before the clock runs ({begin})")
            if end is None and number < len(self.paused):
                raise ValueError(f"only the last pause may be open, not pause {number}")
            if end is not None:
                end = in_utc(end)
                if end < begin:
                    raise ValueError(f"pause {number} ends before it begins ({end} < {begin})")
                running_since = end
            paused.append((begin, end))
        object.__setattr__(self, "started_at", started_at)
        object.__setattr__(self, "paused", tuple(paused))

    @property
    def is_paused(self) -> bool:
        return bool(self.paused) and self.paused[-1][1] is None

    def pause(self, at: datetime) -> StageClock:
        """The clock stopped at ``at`` (e.g. tech asked sales for missing information)."""
        if self.is_paused:
            raise ValueError("the stage clock is paused already")
        return replace(self, paused=(*self.paused, (at, None)))

    def resume(self, at: datetime) -> StageClock:
        """The clock running again from ``at`` with the time it had left."""
        if not self.is_paused:
            raise ValueError("the stage clock is running; there is nothing to resume")
        begin, _ = self.paused[-1]
        return replace(self, paused=(*self.paused[:-1], (begin, at)))

    def elapsed(self, now: datetime) -> timedelta:
        """Counted time from the start to ``now`` (zero before the start)."""
        now = in_utc(now)
        if now <= self.started_at:
            return _ZERO
        counted = counted_time_between(self.calendar, self.started_at, now)
        for begin, end in self.paused:
            if begin >= now:
                break
            stop = now if end is None else min(end, now)
            counted -= counted_time_between(self.calendar, begin, stop)
        return counted

    def remaining(self, now: datetime) -> timedelta:
        """Counted time left at ``now``; negative once more than the limit has been counted."""
        return self.limit - self.elapsed(now)

    def due_at(self) -> datetime | None:
        """The first instant at which the limit has been counted; ``None`` while paused."""
        if self.is_paused:
            return None
        needed = self.limit
        running_since = self.started_at
        for begin, end in self.paused:
            available = counted_time_between(self.calendar, running_since, begin)
            if needed <= available:
                return add_counted_time(self.calendar, running_since, needed)
            needed -= available
            assert end is not None  # only the last pause may be open, and it is not
            running_since = end
        return add_counted_time(self.calendar, running_since, needed)

    def is_overdue(self, now: datetime) -> bool:
        """Strictly after the due instant; a paused clock is not overdue."""
        due = self.due_at()
        return due is not None and in_utc(now) > due


def board_status(
    clock: StageClock, now: datetime, *, at_risk_ratio: Decimal = AT_RISK_RATIO
) -> BoardStatus:
    """How the stage shows on the SLA board at ``now``.

    ``paused`` while paused, ``overdue`` strictly after the due instant, ``at_risk`` once
    the counted time reaches ``at_risk_ratio`` of the limit, ``on_track`` before that.
    """
    if not Decimal(0) < at_risk_ratio <= Decimal(1):
        raise ValueError(f"at_risk_ratio must be above 0 and at most 1, not {at_risk_ratio}")
    if clock.is_paused:
        return "paused"
    if clock.is_overdue(now):
        return "overdue"
    if _microseconds(clock.elapsed(now)) >= at_risk_ratio * _microseconds(clock.limit):
        return "at_risk"
    return "on_track"


def overdue_by(clock: StageClock, now: datetime) -> timedelta:
    """Counted time beyond the limit (zero until then; it stands still while paused).

    With business hours a stage whose limit ran out at closing time is overdue in the
    evening, but by zero working time until work resumes.
    """
    return max(_ZERO, -clock.remaining(now))


def escalation_due_times(
    first_due: datetime, limit: timedelta, calendar: BusinessCalendar | None, levels: int
) -> list[datetime]:
    """The deadlines of escalation levels 1..``levels``; level n fires just after the n-th.

    Level 1 is missed after ``first_due``; each further level after another full ``limit``
    of counted time (each level of the chain gets its own timeout).
    """
    if levels < 0:
        raise ValueError(f"levels must not be negative, not {levels}")
    _check_limit(limit)
    deadlines: list[datetime] = []
    due = in_utc(first_due)
    for _ in range(levels):
        deadlines.append(due)
        due = add_counted_time(calendar, due, limit)
    return deadlines


def level_at(
    clock_due: datetime, limit: timedelta, calendar: BusinessCalendar | None, now: datetime
) -> int:
    """How many escalation deadlines have passed at ``now``: 0 on time, 1 after ``clock_due``.

    It keeps growing past the end of a chain, so the caller can keep reporting the stage.
    Agrees with :func:`escalation_due_times`: the level is the number of deadlines strictly
    before ``now``.
    """
    _check_limit(limit)
    clock_due, now = in_utc(clock_due), in_utc(now)
    if now <= clock_due:
        return 0
    windows = counted_time_between(calendar, clock_due, now) // limit
    # Deadlines 1..windows lie strictly before ``now``; deadline windows + 1 at or before it.
    latest = add_counted_time(calendar, clock_due, windows * limit)
    return windows + (1 if now > latest else 0)


def _check_limit(limit: timedelta) -> None:
    if limit <= _ZERO:
        raise ValueError(f"the escalation timeout must be longer than zero, not {limit}")


def _microseconds(duration: timedelta) -> Decimal:
    return Decimal(duration // timedelta(microseconds=1))
