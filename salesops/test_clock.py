"""The accelerated clock: business time at a given speed, shared by processes, never backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salesops.auth import TokenIssuer
from salesops.clock import AcceleratedClock, ManualClock, SystemClock, real_time_of
from salesops.settings import (
    DEV_JWT_SECRET,
    CommonSettings,
    ConfigurationError,
    ServiceSettings,
    load_settings,
)

WALL = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
START = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 1 April 06:00 in Shanghai


def test_business_time_runs_speed_times_faster_than_the_wall_clock() -> None:
    wall = ManualClock(WALL)
    clock = AcceleratedClock(START, 1440, anchor=WALL, wall=wall)
    assert clock.now() == START
    wall.advance(timedelta(seconds=60))
    assert clock.now() == START + timedelta(days=1)  # a working day a minute
    wall.advance(timedelta(milliseconds=250))
    assert clock.now() == START + timedelta(days=1, minutes=6)


def test_it_waits_at_its_start_until_the_anchor() -> None:
    wall = ManualClock(WALL)
    clock = AcceleratedClock(START, 100, anchor=WALL + timedelta(seconds=10), wall=wall)
    wall.advance(timedelta(seconds=9))
    assert clock.now() == START
    # Real seconds to a business instant count the wait as well as the faster run.
    assert clock.wall_seconds_until(START + timedelta(seconds=200)) == pytest.approx(3.0)
    wall.advance(timedelta(seconds=3))
    assert clock.now() == START + timedelta(seconds=200)
    assert clock.wall_seconds_until(START) == 0


def test_it_never_runs_backwards_when_the_wall_clock_is_set_back() -> None:
    class SteppedBack:
        def __init__(self) -> None:
            self.readings = [WALL + timedelta(seconds=s) for s in (5, 2, 1, 6, 6, 7)]

        def now(self) -> datetime:
            return self.readings.pop(0)

    clock = AcceleratedClock(START, 10, anchor=WALL, wall=SteppedBack())
    seen = [clock.now() for _ in range(6)]
    assert seen == sorted(seen)
    assert seen[1] == seen[0] == START + timedelta(seconds=50)  # held, not repeated
    assert seen[-1] == START + timedelta(seconds=70)


def test_processes_with_the_same_settings_read_the_same_business_time() -> None:
    wall = ManualClock(WALL + timedelta(seconds=30))
    one = AcceleratedClock(START, 500, anchor=WALL, wall=wall)
    other = AcceleratedClock(START, 500, anchor=WALL, wall=wall)  # made later, same anchor
    assert one.now() == other.now() == START + timedelta(seconds=15_000)


def test_the_settings_choose_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(CommonSettings().business_clock(), SystemClock)
    monkeypatch.setenv("SALESOPS_CLOCK_START", START.isoformat())
    monkeypatch.setenv("SALESOPS_CLOCK_SPEED", "1440")
    monkeypatch.setenv("SALESOPS_CLOCK_ANCHOR", WALL.isoformat())
    clock = ServiceSettings(database_url="postgresql://x/y").business_clock()
    assert isinstance(clock, AcceleratedClock)
    assert (clock.start, clock.speed, clock.anchor) == (START, 1440, WALL)
    # Long after the anchor (the real now is later): far into business time.
    assert clock.now() > START + timedelta(days=1)
    monkeypatch.setenv("SALESOPS_CLOCK_START", "2026-04-01T06:00:00")  # no offset
    with pytest.raises(ConfigurationError, match="SALESOPS_CLOCK_START"):
        load_settings(CommonSettings)


def test_production_refuses_an_accelerated_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESOPS_ENVIRONMENT", "production")
    monkeypatch.setenv("SALESOPS_JWT_SECRET", "x" * 40)
    assert load_settings(CommonSettings).environment == "production"
    monkeypatch.setenv("SALESOPS_CLOCK_SPEED", "60")
    with pytest.raises(ConfigurationError, match="for demos"):
        load_settings(CommonSettings)


def test_tokens_keep_to_real_time_while_business_time_races() -> None:
    wall = ManualClock(WALL)
    business = AcceleratedClock(START, 1440, anchor=WALL, wall=wall)
    assert real_time_of(business) is wall
    manual = ManualClock()
    assert real_time_of(manual) is manual
    issuer = TokenIssuer(DEV_JWT_SECRET, "salesops", real_time_of(business))
    token = issuer.mint("rep-x", ttl=timedelta(hours=12))
    wall.advance(timedelta(minutes=30))  # 30 business days later...
    assert business.now() > START + timedelta(days=29)
    assert issuer.subject_of(token) == "rep-x"  # ...a 12-hour token is still good


def test_an_anchor_file_holds_business_time_until_it_is_written(tmp_path: Path) -> None:
    wall = ManualClock(WALL)
    anchor_file = tmp_path / "clock-anchor"
    one = AcceleratedClock(START, 60, anchor_file=anchor_file, wall=wall)
    other = AcceleratedClock(START, 60, anchor_file=anchor_file, wall=wall)
    wall.advance(timedelta(seconds=30))
    assert one.now() == START  # the company is still loading
    anchor_file.write_text((WALL + timedelta(seconds=40)).isoformat(), encoding="utf-8")
    wall.advance(timedelta(seconds=50))  # 80 s after WALL, 40 s after the anchor
    assert one.now() == other.now() == START + timedelta(minutes=40)
    anchor_file.unlink()  # read once: later changes to the file change nothing
    wall.advance(timedelta(seconds=1))
    assert one.now() == START + timedelta(minutes=41)
