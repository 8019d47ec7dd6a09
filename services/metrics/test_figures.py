"""Figures by hand: targets in force, roll-ups by org unit, who sees what, durations."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.customer_reports import TargetAllocated, TargetShare
from contracts.target_book import TargetBook
from salesops.auth import Actor
from salesops.orgdir import OrgDirectory, load_org_directory
from salesops.policy import HealthThresholds
from salesops.problems import DomainError, Forbidden
from services.metrics.activity import duration_stats
from services.metrics.figures import by_person, make_figure, ratio_of, shown_value
from services.metrics.indicators import Ratio
from services.metrics.nodes import (
    child_towards,
    children,
    default_node,
    node,
    people_of,
    visible_node,
)
from services.metrics.penetration import penetration_of, target_in_force, target_period_labels
from services.metrics.periods import Period
from services.metrics.sums import RepSums

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "org.yaml"


@pytest.fixture(scope="module")
def directory() -> OrgDirectory:
    return load_org_directory(SAMPLE)


def actor(directory: OrgDirectory, person_id: str) -> Actor:
    person = directory.person(person_id)
    return Actor(person.id, person.name, frozenset(map(str, person.roles)))


# --- the target in force --------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "targets"),
    [
        ("2026-03", ["2026-03", "2026-Q1", "2026"]),
        ("2026-Q1", ["2026-Q1", "2026"]),
        ("2026-03-17", ["2026-03", "2026-Q1", "2026"]),
        ("2026-W12", ["2026-03", "2026-Q1", "2026"]),  # 16-22 March
        ("2026-W18", ["2026-Q2", "2026"]),  # 27 April - 3 May: no month holds it
        ("2026-W27", ["2026"]),  # 29 June - 5 July: across a quarter
        ("2026-W53", []),  # 28 Dec 2026 - 3 Jan 2027: no target period holds it
    ],
)
def test_a_period_is_measured_against_the_smallest_target_period_around_it(
    label: str, targets: list[str]
) -> None:
    assert target_period_labels(Period.parse(label)) == targets


def book(period: str, parent: str, amount: int, *shares: tuple[str, int]) -> TargetBook:
    allocation = TargetAllocated.examples()[0].model_copy(
        update={
            "period": period,
            "parent_id": parent,
            "parent_amount": Decimal(amount),
            "shares": [
                TargetShare(node_id=n, node_kind="org_unit", amount=Decimal(a)) for n, a in shares
            ],
        }
    )
    return TargetBook.fold(period, [allocation])


def test_without_a_monthly_target_the_quarter_s_is_in_force() -> None:
    books = {"2026-Q1": book("2026-Q1", "hq", 9_000_000, ("region-east", 6_000_000))}
    march = Period.parse("2026-03")
    assert target_in_force(books, march, "region-east") == Decimal(6_000_000)
    books["2026-03"] = book("2026-03", "hq", 3_000_000, ("region-east", 2_000_000))
    assert target_in_force(books, march, "region-east") == Decimal(2_000_000)
    assert target_in_force(books, Period.parse("2026-04"), "region-east") is None


def test_penetration_divides_the_people_s_coverage_by_the_node_s_own_target(
    directory: OrgDirectory,
) -> None:
    books = {"2026-03": book("2026-03", "hq", 1_000, ("region-east", 800), ("region-south", 200))}
    coverage = {"rep-zhang-wei": Decimal(300), "rep-he-zhiqiang": Decimal(150), "x": Decimal(9)}
    march = Period.parse("2026-03")
    east = node(directory, "region-east")
    ratio = penetration_of(east, people_of(directory, east), coverage, books, march)
    assert ratio.pct == Decimal("37.50")  # 300 / 800: the south rep and the stranger are out
    hq = node(directory, "hq")
    assert penetration_of(hq, people_of(directory, hq), coverage, books, march).pct == Decimal(
        "45.00"
    )
    no_target = node(directory, "group-east-1")
    assert penetration_of(no_target, ["rep-zhang-wei"], coverage, books, march).pct is None


# --- roll-ups and the values shown ----------------------------------------------------


def test_a_unit_is_the_ratio_of_its_people_s_sums_not_the_mean_of_their_rates(
    directory: OrgDirectory,
) -> None:
    sums: RepSums = {
        ("rep-zhang-wei", None): (Decimal(1), Decimal(1)),  # 100%
        ("rep-wang-fang", None): (Decimal(1), Decimal(9)),  # 11%
        ("rep-chen-jing", "ignored segment"): (Decimal(5), Decimal(5)),
    }
    per_person = by_person(sums)
    group = ratio_of(directory, node(directory, "group-east-1"), per_person)
    assert (group.numerator, group.denominator, group.pct) == (
        Decimal(2),
        Decimal(10),
        Decimal("20.00"),
    )
    region = ratio_of(directory, node(directory, "region-east"), per_person)
    assert region.pct == Decimal("46.67")  # 7 / 15
    nobody = ratio_of(directory, node(directory, "rep-liu-yang"), per_person)
    assert nobody.pct is None


def test_an_empty_figure_is_no_data_never_zero_percent() -> None:
    figure = make_figure(
        measure="trace",
        titles=("process trace rate", "过程留痕率"),
        node_id="hq",
        period="2026-03",
        ratio=Ratio.of(0, 0),
        indicator="trace",
        thresholds=HealthThresholds(),
    )
    assert figure.value is None
    assert figure.health == "no_data"
    real_zero = make_figure(
        measure="trace",
        titles=("t", "t"),
        node_id="hq",
        period="2026-03",
        ratio=Ratio.of(0, 4),
        indicator="trace",
        thresholds=HealthThresholds(),
    )
    assert (real_zero.value, real_zero.health) == (Decimal("0.00"), "unhealthy")


def test_a_per_record_figure_is_the_plain_ratio_to_two_places() -> None:
    assert shown_value(Ratio.of(58, 10), "per_record") == Decimal("5.80")
    assert shown_value(Ratio.of(2, 3), "per_record") == Decimal("0.67")
    assert shown_value(Ratio.of(2, 0), "per_record") is None


def test_durations_give_mean_median_and_nearest_rank_p90() -> None:
    hours = [timedelta(hours=h) for h in (1, 2, 3, 4, 5, 6, 7, 8, 9, 30)]
    stats = duration_stats(hours)
    assert stats.count == 10
    assert stats.mean_seconds == 75 * 360  # 75 h / 10
    assert stats.median_seconds == int(5.5 * 3600)
    assert stats.p90_seconds == 9 * 3600  # the 9th of 10
    assert duration_stats([]).mean_seconds is None


# --- nodes and who sees them ------------------------------------------------------------


def test_drilling_down_lists_child_units_then_the_reps_placed_in_the_unit(
    directory: OrgDirectory,
) -> None:
    east = [n.id for n in children(directory, node(directory, "region-east"))]
    assert east == ["group-east-1", "group-east-2"]
    group = [n.id for n in children(directory, node(directory, "group-east-1"))]
    assert group == ["rep-zhang-wei", "rep-wang-fang", "rep-liu-yang"]
    assert child_towards(directory, node(directory, "hq"), "rep-zhang-wei") == "region-east"
    assert child_towards(directory, node(directory, "region-south"), "rep-zhang-wei") is None
    # A group lead owning a customer counts under their own id in their group.
    assert child_towards(directory, node(directory, "group-east-1"), "gl-li-na") == "gl-li-na"


@pytest.mark.parametrize(
    ("person", "first", "may_see", "may_not_see"),
    [
        ("sd-zhao-guoqiang", "hq", ["region-south", "rep-lin-xiaowen"], []),
        ("fr-sun-li", "hq", ["hq"], []),
        ("sm-qian-wenbo", "region-east", ["group-east-2", "rep-zhang-wei"], ["hq", "region-south"]),
        ("gl-li-na", "group-east-1", ["rep-wang-fang"], ["region-east", "rep-chen-jing"]),
        ("rep-zhang-wei", "rep-zhang-wei", [], ["group-east-1", "rep-wang-fang"]),
        ("te-luo-bin", "te-luo-bin", [], ["hq"]),
    ],
)
def test_each_person_sees_their_own_node_and_what_is_below_them(
    directory: OrgDirectory,
    person: str,
    first: str,
    may_see: list[str],
    may_not_see: list[str],
) -> None:
    who = actor(directory, person)
    assert default_node(directory, who).id == first
    for node_id in [first, *may_see]:
        assert visible_node(directory, who, node_id).id == node_id
    for node_id in may_not_see:
        with pytest.raises(Forbidden):
            visible_node(directory, who, node_id)


def test_an_unknown_node_is_a_422_naming_the_field(directory: OrgDirectory) -> None:
    with pytest.raises(DomainError) as caught:
        node(directory, "region-mars")
    assert caught.value.field == "unit"
    assert caught.value.status == 422


def test_week_periods_in_march_are_inside_march() -> None:
    week = Period.parse("2026-W12")
    assert (week.first_day, week.last_day) == (date(2026, 3, 16), date(2026, 3, 22))
