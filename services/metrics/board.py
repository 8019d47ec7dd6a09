"""The SLA board and the customers that need attention, as the metrics facts know them.

The board lists every stage still open: overdue (yellow) once its collaboration stage
timed out or its due time has passed, else the time left. The attention list holds the
customers flagged stale (no newer contact since the stale check) or red (no next action
committed since the morning meeting flagged them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from salesops.db import DbExecutor, quote_ident


@dataclass(frozen=True)
class OpenStage:
    ticket_id: str
    stage: str
    team_id: str | None
    owner_id: str | None
    requester_id: str | None
    customer_id: str | None
    customer_name: str | None
    product: str | None
    started_at: datetime
    due_at: datetime | None
    overdue: bool
    seconds_left: int | None
    overdue_seconds: int | None


@dataclass(frozen=True)
class AttentionCustomer:
    customer_id: str
    name: str | None
    owner_id: str | None
    last_contact_at: datetime | None
    stale: bool
    red_flagged: bool
    red_flagged_at: datetime | None


async def open_stages(
    db: DbExecutor, rm: str, now: datetime, requesters: Sequence[str] | None
) -> list[OpenStage]:
    """Open stages, overdue first, then by due time; ``requesters`` None means everyone's."""
    rows = await db.fetch(
        "SELECT s.*, t.requester_id, t.customer_id, t.product, (SELECT c.name"
        f" FROM {quote_ident(rm)}.customer_changes c WHERE c.customer_id = t.customer_id"
        " AND c.name IS NOT NULL ORDER BY c.at DESC LIMIT 1) AS customer_name"
        f" FROM {quote_ident(rm)}.stages s LEFT JOIN {quote_ident(rm)}.tickets t USING (ticket_id)"
        " WHERE s.finished_at IS NULL AND s.started_at IS NOT NULL"
        " AND ($1::text[] IS NULL OR t.requester_id = ANY($1::text[]))",
        None if requesters is None else list(requesters),
    )
    stages = []
    for row in rows:
        due = row["due_at"]
        # A stage waiting for sales has no running clock; its due time is the one it had.
        overdue = bool(row["timed_out"]) or (due is not None and now > due)
        left = None if due is None else int((due - now).total_seconds())
        stages.append(
            OpenStage(
                ticket_id=row["ticket_id"],
                stage=row["stage"],
                team_id=row["team_id"],
                owner_id=row["owner_id"],
                requester_id=row["requester_id"],
                customer_id=row["customer_id"],
                customer_name=row["customer_name"],
                product=row["product"],
                started_at=row["started_at"],
                due_at=due,
                overdue=overdue,
                seconds_left=None if overdue or left is None else left,
                overdue_seconds=None if not overdue or left is None else max(0, -left),
            )
        )
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(stages, key=lambda s: (not s.overdue, s.due_at or far, s.ticket_id, s.stage))


async def attention(
    db: DbExecutor, rm: str, owners: Sequence[str] | None, limit: int = 500
) -> list[AttentionCustomer]:
    """Stale and red-flagged customers, longest without contact first."""
    q = quote_ident(rm)
    rows = await db.fetch(
        "WITH flags AS (SELECT *,"
        " stale_basis IS NOT NULL AND coalesce(last_contact_at, '-infinity') <= stale_basis"
        " AS stale, red_flagged_at IS NOT NULL AND"
        " coalesce(next_action_committed_at, '-infinity') < red_flagged_at AS red"
        f" FROM {q}.customer_flags),"
        " owners AS (SELECT DISTINCT ON (customer_id) customer_id, owner_id"
        f" FROM {q}.customer_changes WHERE owner_id IS NOT NULL ORDER BY customer_id, at DESC),"
        " names AS (SELECT DISTINCT ON (customer_id) customer_id, name"
        f" FROM {q}.customer_changes WHERE name IS NOT NULL ORDER BY customer_id, at DESC)"
        " SELECT f.*, o.owner_id, n.name FROM flags f LEFT JOIN owners o USING (customer_id)"
        " LEFT JOIN names n USING (customer_id) WHERE (f.stale OR f.red)"
        " AND ($1::text[] IS NULL OR o.owner_id = ANY($1::text[]))"
        " ORDER BY coalesce(f.last_contact_at, f.registered_at) NULLS FIRST, f.customer_id"
        " LIMIT $2",
        None if owners is None else list(owners),
        limit,
    )
    return [
        AttentionCustomer(
            customer_id=row["customer_id"],
            name=row["name"],
            owner_id=row["owner_id"],
            last_contact_at=row["last_contact_at"],
            stale=row["stale"],
            red_flagged=row["red"],
            red_flagged_at=row["red_flagged_at"] if row["red"] else None,
        )
        for row in rows
    ]
