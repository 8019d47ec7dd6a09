"""Rules of the business policy: PRODUCT.md defaults, parsing, boundaries, errors."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from salesops.policy import (
    Policy,
    PolicyError,
    Thresholds,
    format_duration,
    load_policy,
    parse_duration,
)

SAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "policy.yaml"
NOW = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


def problems_of(data: Any) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        Policy.from_mapping(data)
    return caught.value.problems


# --- defaults are the numbers of PRODUCT.md -----------------------------------------------


def test_defaults_are_the_product_numbers() -> None:
    policy = Policy()
    assert policy.timezone.key == "Asia/Shanghai"
    assert policy.sla.negotiation_join == timedelta(hours=24)
    assert policy.sla.progress_report_answer == timedelta(hours=4)
    assert policy.sla.tech_answer == timedelta(hours=2)
    assert policy.sla.stocking_start == timedelta(hours=4)
    assert policy.sla.receipt_confirmation == timedelta(hours=1)
    assert policy.business_times.morning_meeting == time(9, 0)
    assert policy.business_times.daily_card == time(18, 0)
    assert policy.thresholds.stale_after == timedelta(days=7)
    assert policy.thresholds.photo_capture_tolerance == timedelta(hours=2)
    assert policy.thresholds.concession_approval_threshold_pct == Decimal("12")
    assert policy.thresholds.support_needed_max_chars == 50
    assert policy.quality_alert.consecutive_ratings == 3
    assert policy.quality_alert.below_stars == 3
    assert policy.health.penetration == Decimal("95")
    assert policy.health.trace == Decimal("90")
    assert policy.health.on_time == Decimal("85")


def test_sample_policy_file_equals_the_defaults() -> None:
    assert load_policy(SAMPLE) == Policy()


def test_empty_policy_file_gives_the_defaults(tmp_path: Path) -> None:
    empty = tmp_path / "policy.yaml"
    empty.write_text("# nothing overridden\n", encoding="utf-8")
    assert load_policy(empty) == Policy()


def test_overriding_one_key_keeps_the_other_defaults() -> None:
    policy = Policy.from_mapping({"sla": {"tech_answer": "90m"}})
    assert policy.sla.tech_answer == timedelta(minutes=90)
    assert policy.sla.stocking_start == timedelta(hours=4)
    assert policy.business_times == Policy().business_times


def test_policy_round_trips_through_its_json_form() -> None:
    policy = Policy.from_mapping({"timezone": "Europe/Berlin", "sla": {"tech_answer": "1h30m"}})
    dumped = policy.model_dump(mode="json")
    assert dumped["sla"]["tech_answer"] == "1h30m"
    assert dumped["sla"]["negotiation_join"] == "24h"
    assert dumped["business_times"]["daily_card"] == "18:00"
    assert Policy.from_mapping(dumped) == policy


def test_policy_is_frozen() -> None:
    with pytest.raises(ValidationError):
        Policy().sla.tech_answer = timedelta(hours=3)  # type: ignore[misc]


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("30m", timedelta(minutes=30)),
        ("7d", timedelta(days=7)),
        ("45s", timedelta(seconds=45)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 2H ", timedelta(hours=2)),
        ("PT2H", timedelta(hours=2)),
        ("P7D", timedelta(days=7)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("0m", timedelta(0)),
    ],
)
def test_duration_parser_reads_compact_and_iso_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "2", "h", "2 hours", "1.5h", "-2h", "2h 30m", "30m2h", "PT", "P", "P1DT", "P1M"]
)
def test_duration_parser_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like 2h, 30m or 7d"):
        parse_duration(text)


@pytest.mark.parametrize(
    "duration", [timedelta(hours=24), timedelta(days=7), timedelta(hours=1, minutes=30)]
)
def test_formatted_duration_parses_back_to_itself(duration: timedelta) -> None:
    assert parse_duration(format_duration(duration)) == duration


def test_bad_duration_error_names_the_key_path() -> None:
    assert problems_of({"sla": {"tech_answer": "2 hours"}}) == [
        "sla.tech_answer: '2 hours' is not a duration like 2h, 30m or 7d"
    ]


def test_bare_number_is_not_a_duration() -> None:
    assert problems_of({"thresholds": {"stale_after": 7}}) == [
        "thresholds.stale_after: 7 is not a duration like 2h, 30m or 7d"
    ]


def test_zero_duration_is_rejected() -> None:
    assert problems_of({"sla": {"receipt_confirmation": "0m"}}) == [
        "sla.receipt_confirmation: '0m' must be longer than zero"
    ]


# --- business times and time zone ---------------------------------------------------------


def test_business_times_are_read_as_hh_mm() -> None:
    policy = Policy.from_mapping({"business_times": {"morning_meeting": "8:30"}})
    assert policy.business_times.morning_meeting == time(8, 30)


@pytest.mark.parametrize("text", ["24:00", "18:60", "18", "6pm", "18:00:00"])
def test_impossible_business_time_is_rejected(text: str) -> None:
    (problem,) = problems_of({"business_times": {"daily_card": text}})
    assert problem.startswith(f"business_times.daily_card: {text!r} is not a time of day")


def test_unquoted_yaml_time_gets_a_hint_to_quote_it(tmp_path: Path) -> None:
    unquoted = tmp_path / "policy.yaml"
    unquoted.write_text("business_times:\n  daily_card: 18:00\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="quote it: unquoted 18:00 reads as the number 1080"):
        load_policy(unquoted)


def test_other_iana_time_zone_is_accepted() -> None:
    assert Policy.from_mapping({"timezone": "Europe/Berlin"}).timezone.key == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Asia", "", "../etc/passwd", "GMT+8!"])
def test_unknown_time_zone_is_rejected_naming_the_key(zone: str) -> None:
    assert problems_of({"timezone": zone}) == [
        f"timezone: {zone!r} is not an IANA time zone like Asia/Shanghai"
    ]


# --- boundaries of the rules --------------------------------------------------------------


def test_customer_contacted_exactly_7_days_ago_is_not_stale() -> None:
    assert not Policy().thresholds.is_stale(NOW - timedelta(days=7), NOW)


def test_customer_contacted_a_second_more_than_7_days_ago_is_stale() -> None:
    assert Policy().thresholds.is_stale(NOW - timedelta(days=7, seconds=1), NOW)


def test_concession_of_exactly_12_percent_needs_no_approval() -> None:
    assert not Policy().thresholds.concession_needs_approval(Decimal("12"))


def test_concession_above_12_percent_needs_approval() -> None:
    assert Policy().thresholds.concession_needs_approval(Decimal("12.01"))


@pytest.mark.parametrize(
    ("offset", "on_time"),
    [
        (timedelta(hours=2), True),
        (-timedelta(hours=2), True),
        (timedelta(hours=2, seconds=1), False),
    ],
)
def test_photo_within_2_hours_either_side_is_on_time(offset: timedelta, on_time: bool) -> None:
    assert Thresholds().photo_is_on_time(NOW + offset, NOW) is on_time


def test_three_ratings_in_a_row_below_3_stars_raise_a_quality_alert() -> None:
    assert Policy().quality_alert.is_raised_by([5, 2, 1, 2])


def test_a_rating_of_3_stars_breaks_the_run() -> None:
    alert = Policy().quality_alert
    assert not alert.is_raised_by([2, 1, 3])
    assert not alert.is_raised_by([2, 2])


def test_indicator_exactly_at_its_healthy_level_is_healthy() -> None:
    health = Policy().health
    assert health.is_healthy("penetration", Decimal("95"))
    assert not health.is_healthy("trace", Decimal("89.99"))
    assert health.is_healthy("on_time", Decimal("85"))


def test_sla_for_a_collaboration_stage_is_found_by_its_directory_name() -> None:
    sla = Policy().sla
    assert sla.for_stage("tech_answer") == timedelta(hours=2)
    assert sla.for_stage("stocking_start") == timedelta(hours=4)
    assert sla.for_stage("receipt_confirmation") == timedelta(hours=1)
    with pytest.raises(KeyError, match="sample_shipping"):
        sla.for_stage("sample_shipping")


# --- errors -------------------------------------------------------------------------------


def test_unknown_key_is_rejected_rather_than_ignored() -> None:
    assert problems_of({"sla": {"tech_anwser": "2h"}}) == ["sla.tech_anwser: is not a known field"]


def test_percent_outside_0_to_100_is_rejected() -> None:
    (problem,) = problems_of({"health": {"trace": 120}})
    assert problem.startswith("health.trace: input should be less than or equal to 100")


def test_all_policy_problems_are_reported_at_once() -> None:
    problems = problems_of(
        {
            "timezone": "Mars/Olympus",
            "sla": {"tech_answer": "soon"},
            "business_times": {"daily_card": "late"},
            "thresholds": {"concession_approval_threshold_pct": "twelve"},
        }
    )
    assert [problem.split(":")[0] for problem in problems] == [
        "timezone",
        "sla.tech_answer",
        "business_times.daily_card",
        "thresholds.concession_approval_threshold_pct",
    ]


def test_policy_file_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    listed = tmp_path / "policy.yaml"
    listed.write_text("- 2h\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="top level: must be a mapping") as caught:
        load_policy(listed)
    assert str(listed) in str(caught.value)


def test_the_next_morning_meeting_is_today_before_nine_and_tomorrow_from_nine_on() -> None:
    from datetime import UTC, datetime, time

    policy = Policy()  # Asia/Shanghai, UTC+8
    nine = time(9, 0)
    before = datetime(2026, 3, 2, 0, 59, tzinfo=UTC)  # 08:59 in Shanghai
    assert policy.next_business_time(nine, before) == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    at_nine = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert policy.next_business_time(nine, at_nine) == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    assert policy.previous_business_time(at_nine, nine) == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


def test_business_times_follow_the_local_calendar_across_daylight_saving() -> None:
    from datetime import UTC, datetime, time

    policy = Policy.from_mapping({"timezone": "Europe/Berlin"})
    # 2026-03-29: Berlin moves from UTC+1 to UTC+2; 09:00 local is 08:00 UTC before, 07:00 after.
    saturday_evening = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)
    sunday_nine = policy.next_business_time(time(9, 0), saturday_evening)
    assert sunday_nine == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert policy.previous_business_time(sunday_nine, time(9, 0)) == datetime(
        2026, 3, 28, 8, 0, tzinfo=UTC
    )
