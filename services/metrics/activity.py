"""The figures beside the three indicators: how often, how fast, how well rated.

A-tier follow-ups per customer, concessions over the threshold and what became of them,
sample delivery time (submitted -> receipt confirmed), tech answer time (without the time
spent waiting for sales), and department ratings. Each is for the records of one node's
people in one period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from contracts.customers import CustomerTier
from salesops.db import DbExecutor, quote_ident
from services.metrics.indicators import Ratio, median_and_p90
from services.metrics.measures import DIMENSION_SQL
from services.metrics.sums import Window


@dataclass(frozen=True)
class DurationStats:
    """How long something took, over ``count`` records; None without records."""

    count: int
    mean_seconds: int | None
    median_seconds: int | None
    p90_seconds: int | None


def duration_stats(durations: Sequence[timedelta]) -> DurationStats:
    median, p90 = median_and_p90(durations)
    if not durations:
        return DurationStats(0, None, None, None)
    mean = sum(durations, timedelta(0)) / len(durations)
    return DurationStats(
        len(durations),
        round(mean.total_seconds()),
        None if median is None else round(median.total_seconds()),
        None if p90 is None else round(p90.total_seconds()),
    )


@dataclass(frozen=True)
class Concessions:
    """Quotes whose concession went over the threshold, and the director's decisions."""

    exceeded: int
    approved: int
    rejected: int
    pending: int


@dataclass(frozen=True)
class DepartmentRating:
    team_id: str
    ratings: int
    mean_stars: Decimal
    below_bar: int


def _q(rm: str) -> str:
    return quote_ident(rm)


async def a_tier_follow_ups(
    db: DbExecutor, rm: str, window: Window, as_of: datetime, people: Sequence[str]
) -> Ratio:
    """Follow-ups with A-tier customers (tier at the contact) over the A-tier customers owned."""
    tier_at_contact = DIMENSION_SQL["tier"].format(rm=_q(rm))
    follow_ups = await db.fetchval(
        f"SELECT count(*) FROM (SELECT *, contacted_at AS at FROM {_q(rm)}.follow_ups) r"
        " WHERE NOT r.imported AND r.at >= $1 AND r.at < $2 AND r.rep_id = ANY($3::text[])"
        f" AND {tier_at_contact} = $4",
        window.starts,
        window.ends,
        list(people),
        str(CustomerTier.A),
    )
    customers = await db.fetchval(
        "WITH o AS (SELECT DISTINCT ON (customer_id) customer_id, owner_id"
        f" FROM {_q(rm)}.customer_changes WHERE owner_id IS NOT NULL AND at <= $1"
        " ORDER BY customer_id, at DESC),"
        " t AS (SELECT DISTINCT ON (customer_id) customer_id, tier"
        f" FROM {_q(rm)}.customer_changes WHERE tier IS NOT NULL AND at <= $1"
        " ORDER BY customer_id, at DESC)"
        " SELECT count(*) FROM o JOIN t USING (customer_id)"
        " WHERE o.owner_id = ANY($2::text[]) AND t.tier = $3",
        as_of,
        list(people),
        str(CustomerTier.A),
    )
    return Ratio.of(follow_ups, customers)


async def concessions(
    db: DbExecutor, rm: str, window: Window, people: Sequence[str]
) -> Concessions:
    rows = await db.fetch(
        "SELECT coalesce(decision, 'pending') AS decision, count(*) AS n"
        f" FROM {_q(rm)}.concessions WHERE exceeded_at >= $1 AND exceeded_at < $2"
        " AND rep_id = ANY($3::text[]) GROUP BY 1",
        window.starts,
        window.ends,
        list(people),
    )
    counts = {row["decision"]: row["n"] for row in rows}
    return Concessions(
        exceeded=sum(counts.values()),
        approved=counts.get("approved", 0),
        rejected=counts.get("rejected", 0),
        pending=counts.get("pending", 0),
    )


async def sample_delivery(
    db: DbExecutor, rm: str, window: Window, people: Sequence[str]
) -> DurationStats:
    """From the request to the rep's receipt confirmation, tickets confirmed in the period."""
    rows = await db.fetch(
        f"SELECT receipt_confirmed_at - submitted_at AS took FROM {_q(rm)}.tickets"
        " WHERE receipt_confirmed_at >= $1 AND receipt_confirmed_at < $2"
        " AND submitted_at IS NOT NULL AND requester_id = ANY($3::text[])",
        window.starts,
        window.ends,
        list(people),
    )
    return duration_stats([row["took"] for row in rows])


async def tech_answer_times(
    db: DbExecutor, rm: str, window: Window, people: Sequence[str]
) -> dict[str | None, DurationStats]:
    """Dispatch -> answer per tech group (None: all groups), less the time waiting for sales."""
    rows = await db.fetch(
        "SELECT s.team_id, s.finished_at - s.started_at"
        " - make_interval(secs => s.paused_seconds::float8) AS took"
        f" FROM {_q(rm)}.stages s JOIN {_q(rm)}.tickets t USING (ticket_id)"
        " WHERE s.stage = 'tech_answer' AND s.open_info_requests = 0"
        " AND s.finished_at >= $1 AND s.finished_at < $2 AND t.requester_id = ANY($3::text[])",
        window.starts,
        window.ends,
        list(people),
    )
    by_team: dict[str | None, list[timedelta]] = {None: []}
    for row in rows:
        by_team.setdefault(row["team_id"], []).append(row["took"])
        by_team[None].append(row["took"])
    return {team: duration_stats(durations) for team, durations in by_team.items()}


async def department_ratings(
    db: DbExecutor, rm: str, window: Window, people: Sequence[str], below_stars: int
) -> list[DepartmentRating]:
    rows = await db.fetch(
        "SELECT r.team_id, count(*) AS n, sum(r.stars) AS stars,"
        " count(*) FILTER (WHERE r.stars < $4) AS low"
        f" FROM {_q(rm)}.ratings r JOIN {_q(rm)}.tickets t USING (ticket_id)"
        " WHERE r.rated_at >= $1 AND r.rated_at < $2 AND t.requester_id = ANY($3::text[])"
        " GROUP BY 1 ORDER BY 1",
        window.starts,
        window.ends,
        list(people),
        below_stars,
    )
    return [
        DepartmentRating(
            row["team_id"],
            row["n"],
            (Decimal(row["stars"]) / row["n"]).quantize(Decimal("0.01"), ROUND_HALF_UP),
            row["low"],
        )
        for row in rows
    ]
