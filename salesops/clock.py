"""The injected clock: production reads the system time, tests move time by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Source of the current time. Always timezone-aware, always UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: tests cross 2 h or 7 days without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by ``delta`` and return the new time."""
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to ``when`` (never backwards)."""
        return self.advance(when.astimezone(UTC) - self._now)


class AcceleratedClock:
    """Business time running ``speed`` times faster than the wall clock, from ``start``.

    Every process given the same ``start``, ``speed`` and ``anchor`` reads the same business
    time (they share the machine's wall clock), so a demo's services, its player and its
    timers agree on "now" while a quarter passes in an hour. Until the wall clock reaches
    ``anchor`` the clock stays at ``start``: the processes can start up, and a demo load its
    company, before the first business minute passes. With ``anchor_file`` instead, the anchor
    is the instant written in that file (ISO 8601) by whoever decides business time may run
    (the demo, once its company is loaded); until the file exists the clock stays at
    ``start``. It never runs backwards, even when the wall clock is set back.
    """

    #: How often (real seconds) a clock still waiting looks for its anchor file.
    ANCHOR_FILE_POLL = 0.05

    def __init__(
        self,
        start: datetime,
        speed: float,
        *,
        anchor: datetime | None = None,
        anchor_file: Path | None = None,
        wall: Clock | None = None,
    ) -> None:
        if start.tzinfo is None or (anchor is not None and anchor.tzinfo is None):
            raise ValueError("AcceleratedClock needs timezone-aware start and anchor times")
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.wall: Clock = wall or SystemClock()
        self.speed = float(speed)
        self.start = start.astimezone(UTC)
        self.anchor_file = anchor_file
        self.anchor: datetime | None = anchor.astimezone(UTC) if anchor else None
        if self.anchor is None and anchor_file is None:
            self.anchor = self.wall.now().astimezone(UTC)
        self._last = self.start
        self._looked_at: datetime | None = None

    def _anchor(self) -> datetime | None:
        if self.anchor is None and self.anchor_file is not None:
            now = self.wall.now()
            if self._looked_at is None or (now - self._looked_at).total_seconds() >= (
                self.ANCHOR_FILE_POLL
            ):
                self._looked_at = now
                try:
                    written = self.anchor_file.read_text(encoding="utf-8").strip()
                    self.anchor = datetime.fromisoformat(written).astimezone(UTC)
                except (OSError, ValueError):  # not there yet (or half written): wait
                    pass
        return self.anchor

    def now(self) -> datetime:
        anchor = self._anchor()
        if anchor is not None:
            elapsed = max(timedelta(0), self.wall.now() - anchor)
            # A wall clock stepped back (NTP) must not make business time repeat itself.
            self._last = max(self._last, self.start + elapsed * self.speed)
        return self._last

    def wall_seconds_until(self, when: datetime) -> float:
        """Real seconds until business time reaches ``when`` (0 when it has; a guess while
        the clock still waits for its anchor file)."""
        ahead = (when - self.now()).total_seconds()
        if ahead <= 0:
            return 0.0
        anchor = self._anchor()
        before_anchor = 0.0 if anchor is None else (anchor - self.wall.now()).total_seconds()
        return max(0.0, before_anchor) + ahead / self.speed


def real_time_of(clock: Clock) -> Clock:
    """The wall clock behind ``clock``: what token lifetimes and platform signatures use.

    A credential valid for 12 hours must not expire after 30 real seconds because a demo
    runs business time 1,440 times faster, and DingTalk checks a signature's timestamp
    against its own (real) clock. Any other clock is its own real time (a test's manual
    clock moves tokens and business time together).
    """
    return clock.wall if isinstance(clock, AcceleratedClock) else clock
