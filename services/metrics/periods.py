"""Reporting periods: the day, ISO week, month or quarter an instant falls in.

Pure calendar arithmetic, no clock reads. A period is a run of whole local days; where
it starts and ends in time depends on the company's time zone (``Policy.timezone``), so
``start`` and ``end`` take the zone. Periods are half-open: ``start(tz) <= t < end(tz)``.
Labels match the ones targets use (``2026-03``, ``2026-Q1``) plus ISO weeks
(``2026-W10``) and days (``2026-03-02``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final, Literal, get_args

PeriodKind = Literal["day", "week", "month", "quarter"]
PERIOD_KINDS: Final[tuple[PeriodKind, ...]] = get_args(PeriodKind)

_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q(\d)")


@dataclass(frozen=True)
class Period:
    """A day, ISO week (Monday first), month or quarter, named by its first local day."""

    kind: PeriodKind
    first_day: date

    def __post_init__(self) -> None:
        if self.kind not in PERIOD_KINDS:
            raise ValueError(f"{self.kind!r} is not a period kind; use one of {PERIOD_KINDS}")
        if _first_day_of(self.kind, self.first_day) != self.first_day:
            raise ValueError(f"{self.first_day} is not the first day of a {self.kind}")

    @classmethod
    def of_day(cls, kind: PeriodKind, day: date) -> Period:
        """The period of ``kind`` that contains the local calendar ``day``."""
        return cls(kind, _first_day_of(kind, day))

    @classmethod
    def containing(cls, kind: PeriodKind, instant: datetime, tz: tzinfo) -> Period:
        """The period of ``kind`` that contains ``instant`` as seen in the zone ``tz``."""
        if instant.tzinfo is None or instant.utcoffset() is None:
            # A naive time would silently be read in the server's zone, not the company's.
            raise ValueError(f"instant {instant.isoformat()} has no time zone")
        return cls.of_day(kind, instant.astimezone(tz).date())

    @classmethod
    def parse(cls, label: str) -> Period:
        """Read a label: ``2026-03-02``, ``2026-W10``, ``2026-03`` or ``2026-Q1``."""
        text = label.strip()
        try:
            if match := _DAY.fullmatch(text):
                return cls("day", date(int(match[1]), int(match[2]), int(match[3])))
            if match := _WEEK.fullmatch(text):
                return cls("week", date.fromisocalendar(int(match[1]), int(match[2]), 1))
            if match := _MONTH.fullmatch(text):
                return cls("month", date(int(match[1]), int(match[2]), 1))
            if match := _QUARTER.fullmatch(text):
                quarter = int(match[2])
                if not 1 <= quarter <= 4:
                    raise ValueError(f"quarter {quarter} is not between 1 and 4")
                return cls("quarter", date(int(match[1]), 3 * quarter - 2, 1))
        except ValueError as exc:
            raise ValueError(f"period {label!r} does not exist: {exc}") from exc
        raise ValueError(
            f"period {label!r} is not a day (2026-03-02), ISO week (2026-W10), "
            "month (2026-03) or quarter (2026-Q1)"
        )

    @property
    def label(self) -> str:
        """``2026-03-02``, ``2026-W10`` (ISO week-numbering year), ``2026-03`` or ``2026-Q1``."""
        day = self.first_day
        if self.kind == "day":
            return day.isoformat()
        if self.kind == "week":
            iso = day.isocalendar()
            return f"{iso.year:04d}-W{iso.week:02d}"
        if self.kind == "month":
            return f"{day.year:04d}-{day.month:02d}"
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"

    @property
    def last_day(self) -> date:
        """The last local day inside the period."""
        return self.next().first_day - timedelta(days=1)

    def start(self, tz: tzinfo) -> datetime:
        """Local midnight of the first day, in ``tz`` (inclusive)."""
        return datetime.combine(self.first_day, time(0), tzinfo=tz)

    def end(self, tz: tzinfo) -> datetime:
        """Local midnight after the last day, in ``tz`` (exclusive).

        Across a DST change the period is an hour shorter or longer than its days times
        24 h; measure it in UTC, since Python subtracts same-zone times by the wall clock.
        """
        return self.next().start(tz)

    def contains(self, instant: datetime, tz: tzinfo) -> bool:
        """Whether ``instant`` falls in this period as seen in ``tz``."""
        return Period.containing(self.kind, instant, tz) == self

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return Period.of_day(self.kind, self.first_day - timedelta(days=1))

    def next(self) -> Period:
        """The period of the same kind just after this one."""
        day = self.first_day
        if self.kind == "day":
            return Period("day", day + timedelta(days=1))
        if self.kind == "week":
            return Period("week", day + timedelta(weeks=1))
        months = 1 if self.kind == "month" else 3
        year, month_index = divmod(day.month - 1 + months, 12)
        return Period(self.kind, date(day.year + year, month_index + 1, 1))

    def __str__(self) -> str:
        return self.label


def _first_day_of(kind: PeriodKind, day: date) -> date:
    if kind == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
