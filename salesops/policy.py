"""Business policy: the numbers behind the sales rules.

``Policy()`` holds the defaults from PRODUCT.md ("Numbers at a glance");
``deploy/policy.yaml`` overrides them per company. Each number lives here once, with
the boundary it implies (stale is strictly more than 7 days, a concession needs
approval strictly above 12%), so services do not restate it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationError

from salesops.orgdir_validation import describe_errors

_COMPACT = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", re.IGNORECASE)
_ISO_8601 = re.compile(
    r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", re.IGNORECASE
)
_HH_MM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_duration(text: str) -> timedelta:
    """Parse ``2h``, ``30m``, ``7d``, ``1h30m`` or ISO 8601 (``PT2H``, ``P7D``).

    Written by hand: the few libraries that parse durations accept far more (months,
    fractions, prose) than a rule like "answer within 2 h" should allow.
    """
    cleaned = text.strip()
    match = _COMPACT.fullmatch(cleaned) or _ISO_8601.fullmatch(cleaned)
    if match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 2h, 30m or 7d")
    weeks, days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(duration: timedelta) -> str:
    """The compact form ``parse_duration`` reads back, e.g. ``24h``, ``7d`` or ``1h30m``."""
    rest = int(duration.total_seconds())
    # People say "24 h" and "7 days": days only from two days up.
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))[0 if rest >= 2 * 86400 else 1 :]
    parts = []
    for unit, size in units:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _to_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, str):
        duration = parse_duration(value)
    else:
        raise ValueError(f"{value!r} is not a duration like 2h, 30m or 7d")
    if duration <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than zero")
    return duration


def _to_time_of_day(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and (match := _HH_MM.fullmatch(value.strip())):
        return time(int(match[1]), int(match[2]))
    hint = ""
    if isinstance(value, int) and 0 <= value < 24 * 60:
        # YAML 1.1 reads an unquoted 18:00 as the base-60 number 1080.
        hint = f" (quote it: unquoted {value // 60}:{value % 60:02d} reads as the number {value})"
    raise ValueError(f"{value!r} is not a time of day like '09:00' or '18:00'{hint}")


def _to_zone(value: object) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    if isinstance(value, str):
        try:
            return ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ValueError(f"{value!r} is not an IANA time zone like Asia/Shanghai")


Duration = Annotated[
    timedelta, PlainValidator(_to_duration), PlainSerializer(format_duration, return_type=str)
]
TimeOfDay = Annotated[
    time,
    PlainValidator(_to_time_of_day),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
]
TimeZone = Annotated[
    ZoneInfo, PlainValidator(_to_zone), PlainSerializer(lambda zone: zone.key, return_type=str)
]
Percent = Annotated[Decimal, Field(ge=0, le=100)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sla(_Section):
    """Deadlines, each counted from the event that starts its clock."""

    negotiation_join: Duration = timedelta(hours=24)
    progress_report_answer: Duration = timedelta(hours=4)
    tech_answer: Duration = timedelta(hours=2)
    stocking_start: Duration = timedelta(hours=4)
    receipt_confirmation: Duration = timedelta(hours=1)

    def for_stage(self, stage_name: str) -> timedelta:
        """The limit of a collaboration stage, named as in the org directory."""
        limits = {
            "tech_answer": self.tech_answer,
            "stocking_start": self.stocking_start,
            "receipt_confirmation": self.receipt_confirmation,
        }
        if stage_name not in limits:
            raise KeyError(f"no SLA for collaboration stage {stage_name!r}")
        return limits[stage_name]


class BusinessTimes(_Section):
    """Local times of day (in the policy's time zone) that start daily deadlines."""

    morning_meeting: TimeOfDay = time(9, 0)
    daily_card: TimeOfDay = time(18, 0)
    #: Tasks on the day's card still not submitted at this time go to the rep's supervisor.
    task_submission_deadline: TimeOfDay = time(21, 0)


class Thresholds(_Section):
    """Limits that flag, reject or lock a record."""

    stale_after: Duration = timedelta(days=7)
    photo_capture_tolerance: Duration = timedelta(hours=2)
    concession_approval_threshold_pct: Percent = Decimal("12")
    support_needed_max_chars: int = Field(default=50, ge=1)

    def is_stale(self, last_contact: datetime, now: datetime) -> bool:
        """Stale means strictly more than ``stale_after`` since the last contact."""
        return now - last_contact > self.stale_after

    def photo_is_on_time(self, captured_at: datetime, scheduled_at: datetime) -> bool:
        """A visit photo counts when taken within the tolerance either side, inclusive."""
        return abs(captured_at - scheduled_at) <= self.photo_capture_tolerance

    def concession_needs_approval(self, concession_pct: Decimal) -> bool:
        """Only a concession strictly above the threshold goes to the sales director."""
        return concession_pct > self.concession_approval_threshold_pct


class QualityAlert(_Section):
    """When a department's run of low ratings sends an improvement list to its head."""

    consecutive_ratings: int = Field(default=3, ge=1)
    below_stars: int = Field(default=3, ge=2, le=5)

    def is_raised_by(self, ratings: Sequence[int]) -> bool:
        """Whether the latest ratings (oldest first) are a full run below ``below_stars``."""
        recent = ratings[-self.consecutive_ratings :]
        return len(recent) == self.consecutive_ratings and all(
            stars < self.below_stars for stars in recent
        )


class HealthThresholds(_Section):
    """Healthy levels (percent, inclusive) of the action-certainty indicators."""

    penetration: Percent = Decimal("95")
    trace: Percent = Decimal("90")
    on_time: Percent = Decimal("85")

    def is_healthy(
        self, indicator: Literal["penetration", "trace", "on_time"], value_pct: Decimal
    ) -> bool:
        """Whether ``value_pct`` reaches the indicator's healthy level."""
        healthy: Decimal = getattr(self, indicator)
        return value_pct >= healthy


class HealthDashboard(_Section):
    """Business context the health dashboard shows beside the bare indicators."""

    #: The industry's mean time between two orders of one customer, to compare ours with.
    industry_repurchase_cycle: Duration = timedelta(days=45)


class PolicyError(ValueError):
    """The policy file is wrong; ``problems`` names each key path and why."""

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"policy {self.source}" if self.source else "policy"
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        return f"{where} has {len(self.problems)} problem(s):\n{lines}"


class Policy(_Section):
    """All configurable numbers of the sales rules; ``Policy()`` is the PRODUCT.md default."""

    timezone: TimeZone = Field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    sla: Sla = Field(default_factory=Sla)
    business_times: BusinessTimes = Field(default_factory=BusinessTimes)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    quality_alert: QualityAlert = Field(default_factory=QualityAlert)
    health: HealthThresholds = Field(default_factory=HealthThresholds)
    health_dashboard: HealthDashboard = Field(default_factory=HealthDashboard)
    #: Optional business hours per collaboration stage (working days, hours, holidays);
    #: validated by the collaboration service, which owns the calendar arithmetic.
    stage_calendars: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def next_business_time(self, local_time: time, after: datetime) -> datetime:
        """The first instant strictly after ``after`` when the org's clocks show ``local_time``.

        Computed on the local calendar, so 09:00 stays 09:00 across daylight-saving changes.
        Returned in UTC.
        """
        local = after.astimezone(self.timezone)
        candidate = datetime.combine(local.date(), local_time, tzinfo=self.timezone)
        if candidate <= local:
            candidate = datetime.combine(
                local.date() + timedelta(days=1), local_time, tzinfo=self.timezone
            )
        return candidate.astimezone(UTC)

    def previous_business_time(self, at: datetime, local_time: time) -> datetime:
        """The same local time on the previous calendar day (e.g. the previous meeting)."""
        local = at.astimezone(self.timezone)
        previous = datetime.combine(
            local.date() - timedelta(days=1), local_time, tzinfo=self.timezone
        )
        return previous.astimezone(UTC)

    @classmethod
    def from_mapping(cls, data: Any, source: str | None = None) -> Policy:
        """Build from parsed YAML; missing keys keep their defaults, unknown keys fail."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise PolicyError([f"top level: must be a mapping, got {data!r}"], source)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise PolicyError(describe_errors(exc), source) from None


def load_policy(path: str | Path) -> Policy:
    """Read the policy file (UTF-8 YAML); raises :class:`PolicyError` naming each bad key."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyError([f"not valid YAML: {exc}"], str(path)) from exc
    return Policy.from_mapping(data, source=str(path))
