"""Target decomposition: a period's target split HQ -> region -> group -> rep, and coverage.

Pure rules, no I/O, no clock reads. Each split records who made it and why, and the
children's shares add up exactly to the parent's target. A rep's coverage is the sum of
the estimated contributions of the customers they own; a unit's is the sum over its reps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from contracts.customer_reports import TargetAllocated, TargetNodeKind, TargetShare
from contracts.target_book import TargetBook
from salesops.orgdir import OrgDirectory, OrgUnit, Role, UnknownOrgUnit, UnknownPerson
from salesops.problems import DomainError, Forbidden, NotFound

# Taken from the contract so the period format is defined in exactly one place.
PERIOD_PATTERN: Final = re.compile(
    TargetAllocated.model_json_schema()["properties"]["period"]["pattern"]
)

TOP_ALLOCATORS: Final = frozenset({Role.SALES_DIRECTOR, Role.ADMIN})
UNIT_ALLOCATORS: Final = frozenset(
    {Role.GROUP_LEAD, Role.SALES_MANAGER, Role.SALES_DIRECTOR, Role.ADMIN}
)
_CENT: Final = Decimal("0.01")


@dataclass(frozen=True)
class AllocateTarget:
    """Split ``parent_id``'s target for ``period`` among all its direct children."""

    period: str
    parent_id: str
    #: Needed for HQ the first time; elsewhere optional and, if given, a cross-check.
    parent_amount: Decimal | None
    shares: list[tuple[str, Decimal]]
    rationale: str


def children_of(directory: OrgDirectory, unit_id: str) -> list[tuple[str, TargetNodeKind]]:
    """Who a unit's target is split among: its child units, then the sales reps placed in it."""
    try:
        directory.org_unit(unit_id)
    except UnknownOrgUnit as exc:
        raise NotFound(f"no org unit {unit_id!r}", field="unit_id") from exc
    units = [(u.id, TargetNodeKind.ORG_UNIT) for u in directory.org_units if u.parent == unit_id]
    reps = [
        (p.id, TargetNodeKind.REP)
        for p in directory.people
        if p.org_unit == unit_id and p.has_role(Role.SALES_REP)
    ]
    return units + reps


def allocate_target(
    book: TargetBook,
    command: AllocateTarget,
    *,
    directory: OrgDirectory,
    actor_id: str,
    actor_roles: frozenset[str],
    now: datetime,
) -> list[TargetAllocated]:
    """Record the split of a unit's target; every check runs before the event is made."""
    if not PERIOD_PATTERN.fullmatch(command.period):
        raise DomainError(
            "must be a year (2024), quarter (2024-Q2) or month (2024-05)", field="period"
        )
    if command.period != book.period:
        raise DomainError(f"the targets loaded are for {book.period}", field="period")
    try:
        parent = directory.org_unit(command.parent_id)
    except UnknownOrgUnit as exc:
        raise DomainError(f"{command.parent_id!r} is not an org unit", field="parent_id") from exc
    _check_authority(parent, directory, actor_id, actor_roles)
    parent_amount = _parent_target(book, parent, command.parent_amount)
    children = dict(children_of(directory, parent.id))
    amounts = _checked_shares(command.shares, parent.id, children)
    _check_sum(sum(amounts.values(), Decimal(0)), parent_amount)
    rationale = command.rationale.strip()
    if not rationale:
        raise DomainError("say why the target is split this way", field="rationale")
    return [
        TargetAllocated(
            parent_id=parent.id,
            period=command.period,
            parent_amount=parent_amount,
            shares=[
                TargetShare(node_id=node_id, node_kind=kind, amount=amounts[node_id])
                for node_id, kind in children.items()
            ],
            rationale=rationale,
            allocated_by=actor_id,
            allocated_at=now,
        )
    ]


def _check_authority(
    parent: OrgUnit, directory: OrgDirectory, actor_id: str, actor_roles: frozenset[str]
) -> None:
    if parent.parent is None:
        if not actor_roles & TOP_ALLOCATORS:
            raise Forbidden(f"only a sales director or admin may split {parent.id}'s target")
        return
    try:
        home = directory.person(actor_id).org_unit
    except UnknownPerson:
        home = None
    in_line = home in {unit.id for unit in directory.org_unit_path(parent.id)}
    if not (in_line and actor_roles & UNIT_ALLOCATORS):
        raise Forbidden(
            f"only a group lead, sales manager, sales director or admin of {parent.id} "
            "or a unit above it may split its target"
        )


def _parent_target(book: TargetBook, parent: OrgUnit, given: Decimal | None) -> Decimal:
    if given is not None:
        _check_amount(given, "parent_amount")
    known = book.targets.get(parent.id)
    if parent.parent is None:
        # The top target is set by its own split; giving a new amount revises it.
        target = given if given is not None else known
        if target is None:
            raise DomainError(
                f"{parent.id} has no target for {book.period} yet: give it", field="parent_amount"
            )
        return target
    if known is None:
        raise DomainError(
            f"{parent.id} has no target for {book.period} yet: "
            f"split {parent.parent}'s target first",
            field="parent_id",
        )
    if given is not None and given != known:
        raise DomainError(
            f"{parent.id}'s target for {book.period} is {_amount(known)}, "
            f"set by {parent.parent}'s split; not {_amount(given)}",
            field="parent_amount",
        )
    return known


def _checked_shares(
    shares: list[tuple[str, Decimal]], parent_id: str, children: Mapping[str, TargetNodeKind]
) -> dict[str, Decimal]:
    if not children:
        raise DomainError(f"{parent_id} has nobody to split its target among", field="parent_id")
    amounts: dict[str, Decimal] = {}
    for i, (node_id, amount) in enumerate(shares):
        if node_id not in children:
            raise DomainError(
                f"{node_id!r} is not a direct child of {parent_id}; "
                f"its children are {', '.join(children)}",
                field=f"shares[{i}].node_id",
            )
        if node_id in amounts:
            raise DomainError(f"{node_id} is given a share twice", field=f"shares[{i}].node_id")
        _check_amount(amount, f"shares[{i}].amount")
        amounts[node_id] = amount
    missing = [child for child in children if child not in amounts]
    if missing:
        raise DomainError(
            f"every child of {parent_id} needs a share (0 is allowed); missing: "
            f"{', '.join(missing)}",
            field="shares",
        )
    return amounts


def _check_sum(total: Decimal, parent_amount: Decimal) -> None:
    if total == parent_amount:
        return
    side = "short of" if total < parent_amount else "over"
    raise DomainError(
        f"shares add up to {_amount(total)}, {_amount(abs(total - parent_amount))} {side} "
        f"the parent's {_amount(parent_amount)}",
        field="shares",
    )


def _check_amount(amount: Decimal, field_name: str) -> None:
    # A float here would make "adds up exactly" a matter of luck.
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise DomainError("must be an exact decimal amount", field=field_name)
    if amount < 0:
        raise DomainError("must not be negative", field=field_name)


def _amount(value: Decimal) -> str:
    return format(value, ",f")


@dataclass(frozen=True)
class CoverageLine:
    """A node's target beside what its reps' customers are estimated to bring in."""

    node_id: str
    node_kind: TargetNodeKind
    name: str
    parent_id: str | None
    target: Decimal | None
    covered: Decimal
    #: covered / target as a percentage, 2 places; None without a (non-zero) target.
    coverage_pct: Decimal | None


def coverage(
    book: TargetBook, directory: OrgDirectory, contributions_by_rep: Mapping[str, Decimal]
) -> list[CoverageLine]:
    """Every unit and rep, top-down, each with its target and coverage."""
    lines: list[CoverageLine] = []

    def visit(node_id: str, kind: TargetNodeKind, parent_id: str | None) -> Decimal:
        index = len(lines)
        if kind is TargetNodeKind.REP:
            name = directory.person(node_id).name
            covered = contributions_by_rep.get(node_id, Decimal(0))
        else:
            name = directory.org_unit(node_id).name
            covered = sum(
                (
                    visit(child, child_kind, node_id)
                    for child, child_kind in children_of(directory, node_id)
                ),
                Decimal(0),
            )
        target = book.targets.get(node_id)
        line = CoverageLine(node_id, kind, name, parent_id, target, covered, _pct(covered, target))
        lines.insert(index, line)
        return covered

    for unit in directory.org_units:
        if unit.parent is None:
            visit(unit.id, TargetNodeKind.ORG_UNIT, None)
    return lines


def _pct(covered: Decimal, target: Decimal | None) -> Decimal | None:
    if not target:
        return None
    return (covered * 100 / target).quantize(_CENT, rounding=ROUND_HALF_UP)
