"""The health dashboard: the money behind the indicators, from the finance systems' events.

Collection rate beside the natural-collection share (money that came without rebates or
stock pushed onto distributors), the customers' repurchase cycle against the industry's
mean, and the margin of new customers' first orders. Ratios are measures (``measures``);
this module adds the money per payment kind and the repurchase intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from salesops.db import DbExecutor, quote_ident
from services.metrics.activity import DurationStats, duration_stats
from services.metrics.measures import owner_at
from services.metrics.sums import Window


async def payments_by_kind(
    db: DbExecutor, rm: str, window: Window, people: Sequence[str]
) -> dict[str, Decimal]:
    """Money received in the period per payment kind (natural, rebate, stock_push)."""
    owner = owner_at("p.customer_id", "p.received_at").format(rm=quote_ident(rm))
    rows = await db.fetch(
        f"SELECT kind, sum(amount) AS amount FROM {quote_ident(rm)}.payments p"
        f" WHERE received_at >= $1 AND received_at < $2 AND {owner} = ANY($3::text[])"
        " GROUP BY kind ORDER BY kind",
        window.starts,
        window.ends,
        list(people),
    )
    return {row["kind"]: row["amount"] for row in rows}


async def repurchase_cycle(
    db: DbExecutor, rm: str, window: Window, people: Sequence[str]
) -> DurationStats:
    """Time since the same customer's previous order, for the orders placed in the period."""
    owner = owner_at("o.customer_id", "o.placed_at").format(rm=quote_ident(rm))
    rows = await db.fetch(
        "SELECT took FROM (SELECT o.placed_at, o.customer_id, placed_at - lag(placed_at)"
        " OVER (PARTITION BY customer_id ORDER BY placed_at, order_id) AS took"
        f" FROM {quote_ident(rm)}.orders o) o"
        f" WHERE took IS NOT NULL AND placed_at >= $1 AND placed_at < $2"
        f" AND {owner} = ANY($3::text[])",
        window.starts,
        window.ends,
        list(people),
    )
    return duration_stats([row["took"] for row in rows])
