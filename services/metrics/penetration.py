"""Target penetration: what the customers each rep owns are estimated to bring, over the target.

Coverage is a snapshot: the estimated contributions of the customers each rep owned at
the end of the period (or now, for a period still running), from the customers' history.
The target is the one in force for the period: the period's own target if it has one,
else that of the smallest target period around it (a week inside March is measured
against March's target, else Q1's, else the year's). Targets are read with
``contracts.target_book.TargetBook``, as the customers service reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from contracts.customer_reports import TargetAllocated
from contracts.target_book import TargetBook
from salesops.db import DbExecutor, quote_ident
from services.metrics.indicators import Ratio, target_penetration
from services.metrics.nodes import Node
from services.metrics.periods import Period

#: Dimension segments of penetration: customer tiers, plus the target's own change.
TARGET_SEGMENT = "target"


def target_period_labels(period: Period) -> list[str]:
    """Target periods that can set ``period``'s target, most specific first.

    Targets are given per month (``2026-03``), quarter (``2026-Q1``) or year (``2026``);
    one counts only if it contains the whole period.
    """
    first, last = period.first_day, period.last_day
    labels = []
    if period.kind != "quarter" and (first.year, first.month) == (last.year, last.month):
        labels.append(f"{first.year:04d}-{first.month:02d}")
    if (first.year, (first.month - 1) // 3) == (last.year, (last.month - 1) // 3):
        labels.append(f"{first.year:04d}-Q{(first.month - 1) // 3 + 1}")
    if first.year == last.year:
        labels.append(f"{first.year:04d}")
    return labels


def target_in_force(
    books: Mapping[str, TargetBook], period: Period, node_id: str
) -> Decimal | None:
    """The node's target for ``period`` from the most specific target period that has one."""
    for label in target_period_labels(period):
        book = books.get(label)
        if book is not None and node_id in book.targets:
            return book.targets[node_id]
    return None


def penetration_of(
    target: Node,
    people: list[str],
    coverage: Mapping[str, Decimal],
    books: Mapping[str, TargetBook],
    period: Period,
) -> Ratio:
    """The node's penetration: its people's coverage over the node's own target."""
    covered = {person: coverage[person] for person in people if person in coverage}
    return target_penetration(covered, target_in_force(books, period, target.id))


async def target_books(db: DbExecutor, rm: str, labels: list[str]) -> dict[str, TargetBook]:
    rows = await db.fetch(
        f"SELECT period, event FROM {quote_ident(rm)}.target_allocations"
        " WHERE period = ANY($1::text[]) ORDER BY allocated_at",
        labels,
    )
    allocations: dict[str, list[TargetAllocated]] = {label: [] for label in labels}
    for row in rows:
        allocations[row["period"]].append(TargetAllocated.model_validate_json(row["event"]))
    return {label: TargetBook.fold(label, events) for label, events in allocations.items()}


def _latest(rm: str, attribute: str) -> str:
    return (
        f"SELECT DISTINCT ON (customer_id) customer_id, {attribute}"
        f" FROM {quote_ident(rm)}.customer_changes"
        f" WHERE {attribute} IS NOT NULL AND at <= $1 ORDER BY customer_id, at DESC"
    )


async def coverage_at(
    db: DbExecutor, rm: str, at: datetime, *, by_tier: bool = False
) -> dict[tuple[str, str | None], Decimal]:
    """(owner, tier or None) -> the estimated contributions of the customers owned at ``at``."""
    tier = "t.tier" if by_tier else "NULL::text"
    rows = await db.fetch(
        f"WITH o AS ({_latest(rm, 'owner_id')}), c AS ({_latest(rm, 'contribution')}),"
        f" t AS ({_latest(rm, 'tier')})"
        f" SELECT o.owner_id, {tier} AS tier, sum(c.contribution) AS covered"
        " FROM o JOIN c USING (customer_id) LEFT JOIN t USING (customer_id) GROUP BY 1, 2",
        at,
    )
    return {(row["owner_id"], row["tier"]): row["covered"] for row in rows}


async def customers_at(
    db: DbExecutor, rm: str, at: datetime, people: list[str], tier: str | None
) -> list[dict[str, object]]:
    """The customers behind a coverage figure: owner, tier, name and contribution at ``at``."""
    rows = await db.fetch(
        f"WITH o AS ({_latest(rm, 'owner_id')}), c AS ({_latest(rm, 'contribution')}),"
        f" t AS ({_latest(rm, 'tier')}), n AS ({_latest(rm, 'name')})"
        " SELECT o.customer_id, o.owner_id AS rep_id, t.tier, n.name, c.contribution"
        " FROM o JOIN c USING (customer_id) LEFT JOIN t USING (customer_id)"
        " LEFT JOIN n USING (customer_id)"
        " WHERE o.owner_id = ANY($2::text[]) AND ($3::text IS NULL OR t.tier = $3)"
        " ORDER BY c.contribution DESC, o.customer_id",
        at,
        people,
        tier,
    )
    return [dict(row) for row in rows]
