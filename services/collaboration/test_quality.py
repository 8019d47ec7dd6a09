"""Table 3 quality rules: ratings, department alerts and repeated document requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from salesops.policy import QualityAlert
from salesops.problems import DomainError
from services.collaboration.quality import (
    DepartmentRun,
    DocumentRequest,
    ImprovementList,
    RatedTicket,
    RepeatLine,
    StageRecord,
    improvement_items,
    rated_by_department,
    record_rating,
    repeated_requests,
    self_service_candidates,
    validate_rating,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TECH = "tech-certification"


def stage(
    name: str = "tech_answer", owner: str = "te-luo-bin", late: timedelta = timedelta(0)
) -> StageRecord:
    due = T0 + timedelta(hours=2)
    return StageRecord(name, owner, due, due + late, late)


def ticket(
    number: int, stars: int, comment: str | None = None, *stages: StageRecord
) -> RatedTicket:
    return RatedTicket(f"T-{number}", stars, comment, T0 + timedelta(days=number), stages)


def rate_all(
    stars: Sequence[int], policy: QualityAlert
) -> tuple[DepartmentRun, list[tuple[int, ImprovementList]]]:
    """Feed ratings in order; return the final run and (1-based position, alert) pairs."""
    run = DepartmentRun(TECH)
    alerts = []
    for position, count in enumerate(stars, start=1):
        run, alert = record_rating(run, ticket(position, count), policy)
        if alert is not None:
            alerts.append((position, alert))
    return run, alerts


# Ratings and department alerts


def test_three_ratings_below_3_in_a_row_raise_one_alert_with_those_three_tickets() -> None:
    run, alerts = rate_all([2, 1, 2], QualityAlert())

    assert len(alerts) == 1
    position, alert = alerts[0]
    assert position == 3
    assert alert.team_id == TECH
    assert [rated.ticket_id for rated in alert.tickets] == ["T-1", "T-2", "T-3"]
    assert run == DepartmentRun(TECH)


def test_two_low_ratings_raise_nothing_yet() -> None:
    run, alerts = rate_all([2, 2], QualityAlert())

    assert alerts == []
    assert [rated.ticket_id for rated in run.low_run] == ["T-1", "T-2"]


def test_a_rating_of_3_breaks_the_run_so_2_2_3_2_2_raises_none() -> None:
    run, alerts = rate_all([2, 2, 3, 2, 2], QualityAlert())

    assert alerts == []
    assert [rated.ticket_id for rated in run.low_run] == ["T-4", "T-5"]


def test_six_low_ratings_raise_two_alerts_at_the_3rd_and_6th() -> None:
    _, alerts = rate_all([2, 2, 2, 2, 2, 2], QualityAlert())

    assert [position for position, _ in alerts] == [3, 6]
    assert [rated.ticket_id for rated in alerts[1][1].tickets] == ["T-4", "T-5", "T-6"]


def test_a_policy_of_2_in_a_row_below_4_alerts_on_3_star_ratings() -> None:
    policy = QualityAlert(consecutive_ratings=2, below_stars=4)

    _, alerts = rate_all([3, 3, 4, 3, 1], policy)

    assert [position for position, _ in alerts] == [2, 5]


def test_a_policy_of_2_in_a_row_below_4_is_not_raised_by_4_star_ratings() -> None:
    _, alerts = rate_all([4, 4, 4, 4], QualityAlert(consecutive_ratings=2, below_stars=4))

    assert alerts == []


def test_a_run_built_under_a_stricter_policy_keeps_only_what_is_still_low() -> None:
    # Two ratings of 3 were low while the bar was 4; under the default they no longer count.
    run = DepartmentRun(TECH, (ticket(1, 3), ticket(2, 3)))

    run, alert = record_rating(run, ticket(3, 2), QualityAlert())

    assert alert is None
    assert [rated.ticket_id for rated in run.low_run] == ["T-3"]


def test_recording_an_invalid_rating_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        record_rating(DepartmentRun(TECH), ticket(1, 0), QualityAlert())

    assert refused.value.field == "stars"


@pytest.mark.parametrize("stars", [1, 2, 3, 4, 5])
def test_one_to_five_stars_are_valid(stars: int) -> None:
    validate_rating(stars, None)


@pytest.mark.parametrize("stars", [0, 6, -1])
def test_stars_outside_one_to_five_are_refused_naming_the_field(stars: int) -> None:
    with pytest.raises(DomainError) as refused:
        validate_rating(stars, None)

    assert refused.value.field == "stars"


@pytest.mark.parametrize("stars", [3.0, 2.5, Decimal("3"), "3", True])
def test_stars_that_are_not_a_whole_number_are_refused(stars: Any) -> None:
    with pytest.raises(DomainError) as refused:
        validate_rating(stars, None)

    assert refused.value.field == "stars"


def test_a_comment_of_500_chinese_characters_is_valid() -> None:
    validate_rating(2, "报" * 500)


def test_a_comment_of_501_characters_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        validate_rating(2, "x" * 501)

    assert refused.value.field == "comment"


def test_a_ticket_counts_once_for_each_team_that_owned_a_stage() -> None:
    stages = [
        ("tech-certification", stage("tech_answer", "te-luo-bin")),
        ("tech-drawings", stage("tech_answer", "te-wang-fang")),
        ("tech-certification", stage("tech_answer", "te-luo-bin", timedelta(hours=1))),
        ("logistics-east", stage("stocking_start", "lo-chen-jie")),
    ]

    rated = rated_by_department("T-17", 2, "慢", T0, stages)

    assert list(rated) == ["tech-certification", "tech-drawings", "logistics-east"]
    assert len(rated["tech-certification"].stages) == 2
    assert all(entry.ticket_id == "T-17" and entry.stars == 2 for entry in rated.values())


def test_improvement_items_list_late_stages_worst_first_then_the_comments() -> None:
    tickets = [
        ticket(17, 2, "CE报告一直没给", stage(late=timedelta(hours=3, minutes=10))),
        ticket(18, 1, None, stage("stocking_start", "lo-chen-jie", timedelta(hours=26))),
        ticket(19, 2, "  图纸\n版本不对 ", stage(), stage("receipt_confirmation", "sa-li-na")),
    ]

    items = improvement_items(tickets)

    assert items == (
        "T-18: stocking_start 26h late (owner lo-chen-jie); rated 1★",
        "T-17: tech_answer 3h10m late (owner te-luo-bin); rated 2★",
        "T-17: rated 2★: 'CE报告一直没给'",
        "T-19: rated 2★: '图纸 版本不对'",
    )


def test_the_alert_carries_the_improvement_items_of_its_tickets() -> None:
    run = DepartmentRun(TECH, (ticket(1, 2), ticket(2, 1, "太慢")))
    last = ticket(3, 2, None, stage(late=timedelta(minutes=45)))

    _, alert = record_rating(run, last, QualityAlert())

    assert alert is not None
    assert alert.items == (
        "T-3: tech_answer 45m late (owner te-luo-bin); rated 2★",
        "T-2: rated 1★: '太慢'",
    )


# Repeated document requests


def request(doc: str, product: str, at: datetime, ticket_id: str = "T-1") -> DocumentRequest:
    return DocumentRequest(ticket_id, doc, product, at)


def many(doc: str, product: str, count: int) -> list[DocumentRequest]:
    return [request(doc, product, T0 + timedelta(hours=n)) for n in range(count)]


SINCE, UNTIL = T0, T0 + timedelta(days=7)


def test_repeats_are_counted_per_document_type_and_product_most_repeats_first() -> None:
    requests = [
        *many("ce_certification_report", "CNC-500", 4),
        *many("ce_certification_report", "CNC-800", 2),
        *many("installation_drawing_3d", "CNC-500", 3),
        *many("energy_test_data", "CNC-500", 1),
    ]

    lines = repeated_requests(requests, since=SINCE, until=UNTIL)

    assert [(line.document_type, line.product, line.requests, line.repeats) for line in lines] == [
        ("ce_certification_report", "CNC-500", 4, 3),
        ("installation_drawing_3d", "CNC-500", 3, 2),
        ("ce_certification_report", "CNC-800", 2, 1),
    ]
    assert [line.share_of_repeats for line in lines] == [
        Decimal("50.00"),
        Decimal("33.33"),
        Decimal("16.67"),
    ]


def test_the_window_includes_since_and_excludes_until() -> None:
    since, until = SINCE, UNTIL
    requests = [
        request("ce_certification_report", "CNC-500", since),
        request("ce_certification_report", "CNC-500", until - timedelta(microseconds=1)),
        request("ce_certification_report", "CNC-500", until),
        request("ce_certification_report", "CNC-500", since - timedelta(microseconds=1)),
    ]

    (line,) = repeated_requests(requests, since=since, until=until)

    assert (line.requests, line.repeats) == (2, 1)


def test_groups_below_min_requests_are_left_out_but_their_repeats_still_count() -> None:
    requests = [*many("ce_certification_report", "CNC-500", 4), *many("energy_test_data", "X", 2)]

    (line,) = repeated_requests(requests, since=SINCE, until=UNTIL, min_requests=3)

    assert (line.document_type, line.repeats, line.share_of_repeats) == (
        "ce_certification_report",
        3,
        Decimal("75.00"),
    )


def test_ties_in_repeats_are_ordered_by_document_type_then_product() -> None:
    requests = [*many("b_doc", "P2", 2), *many("b_doc", "P1", 2), *many("a_doc", "P9", 2)]

    lines = repeated_requests(requests, since=SINCE, until=UNTIL)

    assert [(line.document_type, line.product) for line in lines] == [
        ("a_doc", "P9"),
        ("b_doc", "P1"),
        ("b_doc", "P2"),
    ]


def test_shares_of_repeats_sum_to_100_within_rounding() -> None:
    requests = [*many("a_doc", "P", 2), *many("b_doc", "P", 2), *many("c_doc", "P", 2)]

    lines = repeated_requests(requests, since=SINCE, until=UNTIL)

    shares = [counted.share_of_repeats for counted in lines]
    assert shares == [Decimal("33.33")] * 3
    assert abs(sum(shares, Decimal(0)) - 100) <= Decimal("0.01") * len(shares)


def test_no_requests_in_the_window_give_no_lines() -> None:
    later = T0 + timedelta(days=1)

    assert repeated_requests(many("a_doc", "P", 3), since=later, until=later) == []


def test_a_window_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        repeated_requests([], since=T0 + timedelta(days=1), until=T0)

    assert refused.value.field == "until"


def test_min_requests_below_one_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        repeated_requests([], since=SINCE, until=UNTIL, min_requests=0)

    assert refused.value.field == "min_requests"


def line(doc: str, repeats: int, share: str) -> RepeatLine:
    return RepeatLine(doc, "CNC-500", repeats + 1, repeats, Decimal(share))


def test_self_service_candidates_are_the_fewest_lines_covering_70_percent() -> None:
    lines = [
        line("ce_certification_report", 40, "40.00"),
        line("installation_drawing_3d", 20, "20.00"),
        line("energy_test_data", 15, "15.00"),
        line("material_certificate", 15, "15.00"),
        line("user_manual", 10, "10.00"),
    ]

    chosen = self_service_candidates(lines)

    assert [picked.document_type for picked in chosen] == [
        "ce_certification_report",
        "installation_drawing_3d",
        "energy_test_data",
    ]


def test_a_line_reaching_exactly_the_cover_is_enough() -> None:
    lines = [line("ce_certification_report", 70, "70.00"), line("user_manual", 30, "30.00")]

    assert self_service_candidates(lines) == [lines[0]]


def test_candidates_take_the_largest_shares_first_whatever_the_input_order() -> None:
    lines = [line("small", 10, "10.00"), line("big", 60, "60.00"), line("mid", 30, "30.00")]

    chosen = self_service_candidates(lines, cover=Decimal("80"))

    assert [picked.document_type for picked in chosen] == ["big", "mid"]


def test_one_document_with_73_percent_of_repeats_is_the_only_candidate() -> None:
    requests = [
        *many("ce_certification_report", "CNC-500", 9),
        *many("installation_drawing_3d", "CNC-500", 2),
        *many("energy_test_data", "CNC-500", 2),
        *many("user_manual", "CNC-500", 2),
    ]

    chosen = self_service_candidates(repeated_requests(requests, since=SINCE, until=UNTIL))

    assert [(picked.document_type, picked.share_of_repeats) for picked in chosen] == [
        ("ce_certification_report", Decimal("72.73"))
    ]


@pytest.mark.parametrize("cover", [Decimal("0"), Decimal("100.01")])
def test_a_cover_outside_0_to_100_is_refused(cover: Decimal) -> None:
    with pytest.raises(DomainError) as refused:
        self_service_candidates([], cover=cover)

    assert refused.value.field == "cover"
