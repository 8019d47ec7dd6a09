"""Target decomposition on the sample company: HQ -> region -> group -> rep."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contracts.customer_reports import TargetAllocated, TargetNodeKind
from contracts.target_book import TargetBook
from salesops.orgdir import OrgDirectory, load_org_directory
from salesops.problems import DomainError, Forbidden, NotFound
from services.customers.targets import (
    AllocateTarget,
    CoverageLine,
    allocate_target,
    children_of,
    coverage,
)

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "org.yaml"
PERIOD = "2024-Q2"
NOW = datetime(2024, 4, 1, 1, 30, tzinfo=UTC)

DIRECTOR = ("sd-zhao-guoqiang", frozenset({"sales_director", "department_head"}))
ADMIN = ("it-fang-min", frozenset({"admin"}))
EAST_MANAGER = ("sm-qian-wenbo", frozenset({"sales_manager"}))
SOUTH_MANAGER = ("sm-sun-xiaoyan", frozenset({"sales_manager"}))
EAST_1_LEAD = ("gl-li-na", frozenset({"group_lead"}))
EAST_2_LEAD = ("gl-zhou-jianhua", frozenset({"group_lead"}))
SOUTH_1_LEAD = ("gl-wu-haiyan", frozenset({"group_lead"}))
EAST_1_REP = ("rep-zhang-wei", frozenset({"sales_rep"}))
TECH_DIRECTOR = ("td-zheng-lixin", frozenset({"tech_director", "department_head"}))
STRANGER = ("nobody-here", frozenset({"group_lead"}))

REGIONS = [("region-east", Decimal(7_000_000)), ("region-south", Decimal(5_000_000))]
EAST_GROUPS = [("group-east-1", Decimal(4_000_000)), ("group-east-2", Decimal(3_000_000))]
EAST_1_REPS = [
    ("rep-zhang-wei", Decimal(1_500_000)),
    ("rep-wang-fang", Decimal(1_500_000)),
    ("rep-liu-yang", Decimal(1_000_000)),
]

Actor = tuple[str, frozenset[str]]


@pytest.fixture(scope="module")
def directory() -> OrgDirectory:
    return load_org_directory(SAMPLE)


def split(
    directory: OrgDirectory,
    book: TargetBook,
    parent_id: str,
    shares: list[tuple[str, Decimal]],
    *,
    parent_amount: Decimal | None = None,
    actor: Actor = DIRECTOR,
    rationale: str = "按客户池",
    period: str = PERIOD,
) -> TargetBook:
    """Split a target and return the book with the new allocation folded in."""
    events = allocate_target(
        book,
        AllocateTarget(period, parent_id, parent_amount, shares, rationale),
        directory=directory,
        actor_id=actor[0],
        actor_roles=actor[1],
        now=NOW,
    )
    return TargetBook.fold(book.period, [*book.allocations.values(), *events])


def hq_split(directory: OrgDirectory, book: TargetBook | None = None) -> TargetBook:
    return split(
        directory, book or TargetBook(PERIOD), "hq", REGIONS, parent_amount=Decimal(12_000_000)
    )


def east_split(directory: OrgDirectory) -> TargetBook:
    return split(directory, hq_split(directory), "region-east", EAST_GROUPS, actor=EAST_MANAGER)


def refusal(directory: OrgDirectory, book: TargetBook, parent_id: str, **kw: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        split(directory, book, parent_id, **kw)
    return caught.value


def line_of(lines: list[CoverageLine], node_id: str) -> CoverageLine:
    return next(line for line in lines if line.node_id == node_id)


# --- the children of a unit ------------------------------------------------------------


def test_the_children_of_hq_are_its_regions(directory: OrgDirectory) -> None:
    assert children_of(directory, "hq") == [
        ("region-east", TargetNodeKind.ORG_UNIT),
        ("region-south", TargetNodeKind.ORG_UNIT),
    ]


def test_the_children_of_a_group_are_its_sales_reps_and_not_its_lead(
    directory: OrgDirectory,
) -> None:
    assert children_of(directory, "group-east-1") == [
        (rep, TargetNodeKind.REP) for rep, _ in EAST_1_REPS
    ]


def test_the_children_of_an_unknown_unit_are_not_found(directory: OrgDirectory) -> None:
    with pytest.raises(NotFound):
        children_of(directory, "region-north")


# --- the whole decomposition -----------------------------------------------------------


def test_a_company_target_of_12_million_splits_down_to_every_rep(
    directory: OrgDirectory,
) -> None:
    book = east_split(directory)
    book = split(
        directory,
        book,
        "region-south",
        [("group-south-1", Decimal(5_000_000))],
        actor=SOUTH_MANAGER,
    )
    book = split(directory, book, "group-east-1", EAST_1_REPS, actor=EAST_1_LEAD)
    east_2 = [
        ("rep-chen-jing", Decimal(1_000_000)),
        ("rep-yang-fan", Decimal(1_000_000)),
        ("rep-huang-lei", Decimal(1_000_000)),
    ]
    book = split(directory, book, "group-east-2", east_2, actor=EAST_2_LEAD)
    south_1 = [("rep-he-zhiqiang", Decimal(2_500_000)), ("rep-lin-xiaowen", Decimal(2_500_000))]
    book = split(directory, book, "group-south-1", south_1, actor=SOUTH_1_LEAD)

    reps = [p.id for p in directory.people_with_role("sales_rep")]
    assert sum(book.targets[rep] for rep in reps) == Decimal(12_000_000)
    assert book.targets["hq"] == Decimal(12_000_000)
    assert book.targets["region-east"] == Decimal(7_000_000)
    assert book.targets["group-east-2"] == Decimal(3_000_000)
    assert book.targets["rep-lin-xiaowen"] == Decimal(2_500_000)
    assert book.stale == frozenset()
    assert {a.allocated_by for a in book.allocations.values()} == {
        DIRECTOR[0],
        EAST_MANAGER[0],
        SOUTH_MANAGER[0],
        EAST_1_LEAD[0],
        EAST_2_LEAD[0],
        SOUTH_1_LEAD[0],
    }


def test_a_split_records_who_made_it_why_and_when(directory: OrgDirectory) -> None:
    [event] = allocate_target(
        TargetBook(PERIOD),
        AllocateTarget(PERIOD, "hq", Decimal(12_000_000), REGIONS, "  华东客户池更大，承担 58%  "),
        directory=directory,
        actor_id=DIRECTOR[0],
        actor_roles=DIRECTOR[1],
        now=NOW,
    )
    assert event.allocated_by == "sd-zhao-guoqiang"
    assert event.allocated_at == NOW
    assert event.rationale == "华东客户池更大，承担 58%"
    assert event.parent_amount == Decimal(12_000_000)
    assert [(s.node_id, s.node_kind, s.amount) for s in event.shares] == [
        ("region-east", TargetNodeKind.ORG_UNIT, Decimal(7_000_000)),
        ("region-south", TargetNodeKind.ORG_UNIT, Decimal(5_000_000)),
    ]
    assert TargetAllocated.model_validate_json(event.model_dump_json()) == event


def test_shares_are_recorded_in_the_directorys_order_whatever_order_they_came_in(
    directory: OrgDirectory,
) -> None:
    book = hq_split(directory)
    shares = [share.node_id for share in book.allocations["hq"].shares]
    reversed_book = split(
        directory, TargetBook(PERIOD), "hq", REGIONS[::-1], parent_amount=Decimal(12_000_000)
    )
    assert [share.node_id for share in reversed_book.allocations["hq"].shares] == shares


# --- the shares add up exactly ---------------------------------------------------------


def test_shares_that_add_up_to_the_parent_to_the_cent_pass(directory: OrgDirectory) -> None:
    shares = [("region-east", Decimal("6999999.99")), ("region-south", Decimal("5000000.01"))]
    book = split(directory, TargetBook(PERIOD), "hq", shares, parent_amount=Decimal(12_000_000))
    assert book.targets["region-east"] == Decimal("6999999.99")


def test_shares_that_miss_the_parent_by_one_cent_are_refused(directory: OrgDirectory) -> None:
    shares = [("region-east", Decimal("6999999.99")), ("region-south", Decimal(5_000_000))]
    error = refusal(
        directory, TargetBook(PERIOD), "hq", shares=shares, parent_amount=Decimal(12_000_000)
    )
    assert error.field == "shares"
    assert error.reason == ("shares add up to 11,999,999.99, 0.01 short of the parent's 12,000,000")


def test_shares_over_the_parent_by_one_cent_are_refused(directory: OrgDirectory) -> None:
    shares = [("region-east", Decimal("7000000.01")), ("region-south", Decimal(5_000_000))]
    error = refusal(
        directory, TargetBook(PERIOD), "hq", shares=shares, parent_amount=Decimal(12_000_000)
    )
    assert error.field == "shares"
    assert error.reason == "shares add up to 12,000,000.01, 0.01 over the parent's 12,000,000"


def test_the_sum_error_says_by_how_much_the_shares_fall_short(directory: OrgDirectory) -> None:
    shares = [("region-east", Decimal(6_500_000)), ("region-south", Decimal(5_000_000))]
    error = refusal(
        directory, TargetBook(PERIOD), "hq", shares=shares, parent_amount=Decimal(12_000_000)
    )
    assert error.reason == ("shares add up to 11,500,000, 500,000 short of the parent's 12,000,000")


def test_a_zero_share_is_allowed(directory: OrgDirectory) -> None:
    shares = [("region-east", Decimal(12_000_000)), ("region-south", Decimal(0))]
    book = split(directory, TargetBook(PERIOD), "hq", shares, parent_amount=Decimal(12_000_000))
    assert book.targets["region-south"] == Decimal(0)


def test_a_negative_share_is_refused(directory: OrgDirectory) -> None:
    shares = [("region-east", Decimal("12000000.01")), ("region-south", Decimal("-0.01"))]
    error = refusal(
        directory, TargetBook(PERIOD), "hq", shares=shares, parent_amount=Decimal(12_000_000)
    )
    assert (error.field, error.reason) == ("shares[1].amount", "must not be negative")


@pytest.mark.parametrize("amount", [5_000_000.0, Decimal("NaN"), Decimal("Infinity")])
def test_a_share_that_is_not_an_exact_finite_decimal_is_refused(
    directory: OrgDirectory, amount: Any
) -> None:
    shares = [("region-east", Decimal(7_000_000)), ("region-south", amount)]
    error = refusal(
        directory, TargetBook(PERIOD), "hq", shares=shares, parent_amount=Decimal(12_000_000)
    )
    assert (error.field, error.reason) == ("shares[1].amount", "must be an exact decimal amount")


# --- who the shares go to --------------------------------------------------------------


def test_a_share_for_a_grandchild_is_refused_naming_the_real_children(
    directory: OrgDirectory,
) -> None:
    shares = [("region-east", Decimal(7_000_000)), ("group-south-1", Decimal(5_000_000))]
    error = refusal(
        directory, TargetBook(PERIOD), "hq", shares=shares, parent_amount=Decimal(12_000_000)
    )
    assert error.field == "shares[1].node_id"
    assert "region-east, region-south" in error.reason


def test_a_rep_of_another_group_cannot_get_a_share(directory: OrgDirectory) -> None:
    shares = [*EAST_1_REPS[:2], ("rep-chen-jing", Decimal(1_000_000))]
    error = refusal(
        directory, east_split(directory), "group-east-1", shares=shares, actor=EAST_1_LEAD
    )
    assert error.field == "shares[2].node_id"


def test_a_child_given_a_share_twice_is_refused(directory: OrgDirectory) -> None:
    shares = [*REGIONS, ("region-east", Decimal(0))]
    error = refusal(
        directory, TargetBook(PERIOD), "hq", shares=shares, parent_amount=Decimal(12_000_000)
    )
    assert error.field == "shares[2].node_id"
    assert "twice" in error.reason


def test_a_child_left_without_a_share_is_refused(directory: OrgDirectory) -> None:
    error = refusal(
        directory, east_split(directory), "group-east-1", shares=EAST_1_REPS[:2], actor=EAST_1_LEAD
    )
    assert error.field == "shares"
    assert error.reason.endswith("missing: rep-liu-yang")


# --- rationale, period and parent ------------------------------------------------------


@pytest.mark.parametrize("rationale", ["", "   ", "\n\t"])
def test_a_blank_rationale_is_refused(directory: OrgDirectory, rationale: str) -> None:
    error = refusal(
        directory,
        TargetBook(PERIOD),
        "hq",
        shares=REGIONS,
        parent_amount=Decimal(12_000_000),
        rationale=rationale,
    )
    assert error.field == "rationale"


@pytest.mark.parametrize("period", ["2024-Q5", "2024-13", "24-Q2", "2024Q2", "2024-Q2 ", ""])
def test_a_malformed_period_is_refused(directory: OrgDirectory, period: str) -> None:
    error = refusal(
        directory,
        TargetBook(period),
        "hq",
        shares=REGIONS,
        parent_amount=Decimal(12_000_000),
        period=period,
    )
    assert error.field == "period"


@pytest.mark.parametrize("period", ["2024", "2024-Q1", "2024-05", "2024-12"])
def test_a_year_quarter_or_month_is_a_period(directory: OrgDirectory, period: str) -> None:
    book = split(
        directory,
        TargetBook(period),
        "hq",
        REGIONS,
        parent_amount=Decimal(12_000_000),
        period=period,
    )
    assert book.targets["hq"] == Decimal(12_000_000)


def test_a_split_for_another_period_than_the_books_is_refused(directory: OrgDirectory) -> None:
    error = refusal(
        directory, TargetBook("2024-Q3"), "hq", shares=REGIONS, parent_amount=Decimal(12_000_000)
    )
    assert error.field == "period"


def test_a_parent_that_is_not_an_org_unit_is_refused(directory: OrgDirectory) -> None:
    error = refusal(directory, TargetBook(PERIOD), "rep-zhang-wei", shares=[])
    assert error.field == "parent_id"


def test_hq_needs_a_parent_amount_the_first_time(directory: OrgDirectory) -> None:
    error = refusal(directory, TargetBook(PERIOD), "hq", shares=REGIONS)
    assert error.field == "parent_amount"


def test_hq_keeps_its_target_when_split_again_without_an_amount(
    directory: OrgDirectory,
) -> None:
    shares = [("region-east", Decimal(6_000_000)), ("region-south", Decimal(6_000_000))]
    book = split(directory, hq_split(directory), "hq", shares)
    assert book.targets["hq"] == Decimal(12_000_000)
    assert book.targets["region-east"] == Decimal(6_000_000)


def test_hq_split_again_with_a_new_amount_revises_the_company_target(
    directory: OrgDirectory,
) -> None:
    shares = [("region-east", Decimal(8_000_000)), ("region-south", Decimal(5_000_000))]
    book = split(directory, hq_split(directory), "hq", shares, parent_amount=Decimal(13_000_000))
    assert book.targets["hq"] == Decimal(13_000_000)


def test_a_negative_parent_amount_is_refused(directory: OrgDirectory) -> None:
    error = refusal(directory, TargetBook(PERIOD), "hq", shares=REGIONS, parent_amount=Decimal(-1))
    assert (error.field, error.reason) == ("parent_amount", "must not be negative")


def test_a_region_cannot_be_split_before_hq_has_given_it_a_target(
    directory: OrgDirectory,
) -> None:
    error = refusal(
        directory,
        TargetBook(PERIOD),
        "region-east",
        shares=EAST_GROUPS,
        parent_amount=Decimal(7_000_000),
        actor=EAST_MANAGER,
    )
    assert error.field == "parent_id"
    assert "split hq's target first" in error.reason


def test_a_group_cannot_be_split_before_its_region_has_been(directory: OrgDirectory) -> None:
    error = refusal(
        directory, hq_split(directory), "group-east-1", shares=EAST_1_REPS, actor=EAST_1_LEAD
    )
    assert error.field == "parent_id"
    assert "split region-east's target first" in error.reason


def test_a_parent_amount_other_than_the_allocated_target_is_refused(
    directory: OrgDirectory,
) -> None:
    error = refusal(
        directory,
        hq_split(directory),
        "region-east",
        shares=EAST_GROUPS,
        parent_amount=Decimal(7_500_000),
        actor=EAST_MANAGER,
    )
    assert error.field == "parent_amount"
    assert "7,000,000" in error.reason


def test_a_parent_amount_equal_to_the_allocated_target_is_accepted(
    directory: OrgDirectory,
) -> None:
    book = split(
        directory,
        hq_split(directory),
        "region-east",
        EAST_GROUPS,
        parent_amount=Decimal("7000000.00"),
        actor=EAST_MANAGER,
    )
    assert book.targets["group-east-1"] == Decimal(4_000_000)


# --- who may split ---------------------------------------------------------------------


@pytest.mark.parametrize("actor", [DIRECTOR, ADMIN])
def test_a_sales_director_or_admin_may_split_hq(directory: OrgDirectory, actor: Actor) -> None:
    book = split(
        directory, TargetBook(PERIOD), "hq", REGIONS, parent_amount=Decimal(12_000_000), actor=actor
    )
    assert book.allocations["hq"].allocated_by == actor[0]


@pytest.mark.parametrize("actor", [EAST_MANAGER, EAST_1_LEAD, EAST_1_REP, TECH_DIRECTOR])
def test_nobody_else_may_split_hq(directory: OrgDirectory, actor: Actor) -> None:
    with pytest.raises(Forbidden):
        split(
            directory,
            TargetBook(PERIOD),
            "hq",
            REGIONS,
            parent_amount=Decimal(12_000_000),
            actor=actor,
        )


@pytest.mark.parametrize("actor", [EAST_MANAGER, DIRECTOR, ADMIN])
def test_the_regions_manager_or_someone_above_with_a_sales_role_may_split_a_region(
    directory: OrgDirectory, actor: Actor
) -> None:
    book = split(directory, hq_split(directory), "region-east", EAST_GROUPS, actor=actor)
    assert book.allocations["region-east"].allocated_by == actor[0]


@pytest.mark.parametrize("actor", [SOUTH_MANAGER, EAST_1_LEAD, EAST_1_REP, TECH_DIRECTOR, STRANGER])
def test_another_regions_manager_a_lead_below_or_a_non_sales_role_may_not_split_a_region(
    directory: OrgDirectory, actor: Actor
) -> None:
    with pytest.raises(Forbidden):
        split(directory, hq_split(directory), "region-east", EAST_GROUPS, actor=actor)


@pytest.mark.parametrize("actor", [EAST_1_LEAD, EAST_MANAGER, DIRECTOR, ADMIN])
def test_the_groups_lead_or_someone_above_may_split_a_group(
    directory: OrgDirectory, actor: Actor
) -> None:
    book = split(directory, east_split(directory), "group-east-1", EAST_1_REPS, actor=actor)
    assert book.allocations["group-east-1"].allocated_by == actor[0]


@pytest.mark.parametrize("actor", [EAST_2_LEAD, SOUTH_MANAGER, EAST_1_REP, TECH_DIRECTOR, STRANGER])
def test_a_lead_of_another_group_or_a_rep_may_not_split_a_group(
    directory: OrgDirectory, actor: Actor
) -> None:
    with pytest.raises(Forbidden):
        split(directory, east_split(directory), "group-east-1", EAST_1_REPS, actor=actor)


def test_the_roles_held_are_the_ones_handed_in_not_the_directorys(
    directory: OrgDirectory,
) -> None:
    demoted = (EAST_1_LEAD[0], frozenset({"sales_rep"}))
    with pytest.raises(Forbidden):
        split(directory, east_split(directory), "group-east-1", EAST_1_REPS, actor=demoted)


def test_authority_is_checked_before_the_shares(directory: OrgDirectory) -> None:
    with pytest.raises(Forbidden):
        split(directory, east_split(directory), "group-east-1", [], actor=EAST_2_LEAD)


# --- splitting again -------------------------------------------------------------------


def test_a_later_split_of_the_same_parent_replaces_the_earlier_shares(
    directory: OrgDirectory,
) -> None:
    later = [("group-east-1", Decimal(3_500_000)), ("group-east-2", Decimal(3_500_000))]
    book = split(
        directory,
        east_split(directory),
        "region-east",
        later,
        actor=EAST_MANAGER,
        rationale="二组新签大客户",
    )
    assert book.targets["group-east-1"] == Decimal(3_500_000)
    assert book.targets["group-east-2"] == Decimal(3_500_000)
    assert book.allocations["region-east"].rationale == "二组新签大客户"


def test_a_split_below_stays_in_force_when_the_parent_keeps_its_share(
    directory: OrgDirectory,
) -> None:
    same_east = [("region-east", Decimal(7_000_000)), ("region-south", Decimal(5_000_000))]
    book = split(directory, east_split(directory), "hq", same_east)
    assert book.targets["group-east-1"] == Decimal(4_000_000)
    assert book.stale == frozenset()


def test_a_split_below_goes_stale_when_the_parents_share_changes(
    directory: OrgDirectory,
) -> None:
    smaller_east = [("region-east", Decimal(6_500_000)), ("region-south", Decimal(5_500_000))]
    book = split(directory, east_split(directory), "hq", smaller_east)
    assert book.stale == frozenset({"region-east"})
    assert "group-east-1" not in book.targets

    resplit = [("group-east-1", Decimal(3_500_000)), ("group-east-2", Decimal(3_000_000))]
    book = split(directory, book, "region-east", resplit, actor=EAST_MANAGER)
    assert book.stale == frozenset()
    assert book.targets["group-east-1"] == Decimal(3_500_000)


def test_the_book_ignores_splits_of_other_periods(directory: OrgDirectory) -> None:
    q2 = hq_split(directory).allocations["hq"]
    q3 = q2.model_copy(update={"period": "2024-Q3", "parent_amount": Decimal(1)})
    book = TargetBook.fold(PERIOD, [q2, q3])
    assert book.targets["hq"] == Decimal(12_000_000)


# --- coverage --------------------------------------------------------------------------


def test_a_reps_coverage_is_their_customers_contributions_against_their_target(
    directory: OrgDirectory,
) -> None:
    book = split(directory, east_split(directory), "group-east-1", EAST_1_REPS, actor=EAST_1_LEAD)
    lines = coverage(book, directory, {"rep-zhang-wei": Decimal("1425000.00")})
    assert line_of(lines, "rep-zhang-wei") == CoverageLine(
        node_id="rep-zhang-wei",
        node_kind=TargetNodeKind.REP,
        name="张伟",
        parent_id="group-east-1",
        target=Decimal(1_500_000),
        covered=Decimal("1425000.00"),
        coverage_pct=Decimal("95.00"),
    )


def test_a_rep_without_customers_covers_nothing_of_their_target(
    directory: OrgDirectory,
) -> None:
    book = split(directory, east_split(directory), "group-east-1", EAST_1_REPS, actor=EAST_1_LEAD)
    line = line_of(coverage(book, directory, {}), "rep-liu-yang")
    assert (line.covered, line.coverage_pct) == (Decimal(0), Decimal("0.00"))


def test_a_units_coverage_sums_the_reps_under_it(directory: OrgDirectory) -> None:
    contributions = {
        "rep-zhang-wei": Decimal("1000000.50"),
        "rep-chen-jing": Decimal("2000000.25"),
        "rep-he-zhiqiang": Decimal(4_000_000),
    }
    lines = coverage(east_split(directory), directory, contributions)
    assert line_of(lines, "group-east-1").covered == Decimal("1000000.50")
    east = line_of(lines, "region-east")
    assert (east.covered, east.coverage_pct) == (Decimal("3000000.75"), Decimal("42.86"))
    hq = line_of(lines, "hq")
    assert (hq.covered, hq.coverage_pct) == (Decimal("7000000.75"), Decimal("58.33"))


def test_coverage_without_a_target_has_no_percentage(directory: OrgDirectory) -> None:
    lines = coverage(hq_split(directory), directory, {"rep-zhang-wei": Decimal(100)})
    group = line_of(lines, "group-east-1")
    assert (group.target, group.covered, group.coverage_pct) == (None, Decimal(100), None)
    assert line_of(lines, "rep-wang-fang").target is None


def test_a_zero_target_has_no_coverage_percentage(directory: OrgDirectory) -> None:
    shares = [("region-east", Decimal(12_000_000)), ("region-south", Decimal(0))]
    book = split(directory, TargetBook(PERIOD), "hq", shares, parent_amount=Decimal(12_000_000))
    south = line_of(coverage(book, directory, {}), "region-south")
    assert (south.target, south.coverage_pct) == (Decimal(0), None)


def test_nothing_allocated_and_nothing_owned_is_zero_covered_and_no_percentage(
    directory: OrgDirectory,
) -> None:
    lines = coverage(TargetBook(PERIOD), directory, {})
    assert {(line.target, line.covered, line.coverage_pct) for line in lines} == {
        (None, Decimal(0), None)
    }


def test_coverage_lists_every_unit_and_rep_top_down(directory: OrgDirectory) -> None:
    lines = coverage(TargetBook(PERIOD), directory, {})
    assert [line.node_id for line in lines] == [
        "hq",
        "region-east",
        "group-east-1",
        "rep-zhang-wei",
        "rep-wang-fang",
        "rep-liu-yang",
        "group-east-2",
        "rep-chen-jing",
        "rep-yang-fan",
        "rep-huang-lei",
        "region-south",
        "group-south-1",
        "rep-he-zhiqiang",
        "rep-lin-xiaowen",
    ]
    assert line_of(lines, "region-south").parent_id == "hq"
    assert line_of(lines, "hq").parent_id is None
