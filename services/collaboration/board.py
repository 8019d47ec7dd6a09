"""The SLA board: every open stage with its owner, time left or overdue by, and colour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

import asyncpg

from contracts.collaboration import TicketStage
from services.collaboration.sla import AT_RISK_RATIO
from services.collaboration.ticket import SlaRule

Status = Literal["on_track", "at_risk", "overdue", "waiting_for_sales"]


@dataclass(frozen=True)
class BoardLine:
    ticket_id: str
    customer_id: str
    customer_name: str | None
    product: str
    requester_id: str
    stage: str
    team_id: str | None
    owner_id: str
    due_at: datetime | None
    time_left_seconds: int | None
    overdue_by_seconds: int | None
    escalation_level: int
    next_escalation_at: datetime | None
    status: Status


def board_line(row: asyncpg.Record, rule: SlaRule, now: datetime) -> BoardLine:
    """Yellow (overdue) strictly after the due time; at risk once 80% of the window is used.

    Measured against the stage's SLA deadline: escalating an overdue stage to the next owner
    does not make it on time again.
    """
    due: datetime | None = None if row["due_at"] is None else row["sla_due_at"]
    left: timedelta | None = None
    if due is None:
        status: Status = "waiting_for_sales"
    else:
        left = rule.between(now, due)
        if now > due:
            status = "overdue"
        elif _used_share(rule.limit - left, rule.limit) >= AT_RISK_RATIO:
            status = "at_risk"
        else:
            status = "on_track"
    overdue = status == "overdue" and left is not None
    return BoardLine(
        ticket_id=row["ticket_id"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        product=row["product"],
        requester_id=row["requester_id"],
        stage=row["stage"],
        team_id=row["team_id"],
        owner_id=row["owner_id"],
        due_at=due,
        time_left_seconds=int(left.total_seconds()) if left is not None and not overdue else None,
        overdue_by_seconds=int((now - due).total_seconds()) if overdue and due else None,
        escalation_level=row["level"],
        next_escalation_at=row["due_at"],
        status=status,
    )


def _used_share(used: timedelta, limit: timedelta) -> Decimal:
    return Decimal(used // timedelta(microseconds=1)) / Decimal(limit // timedelta(microseconds=1))


async def sla_board(
    pool: asyncpg.Pool, rules: dict[TicketStage, SlaRule], now: datetime
) -> list[BoardLine]:
    rows = await pool.fetch(
        "SELECT s.*, t.customer_id, k.name AS customer_name, t.product, t.requester_id"
        " FROM ticket_stages s JOIN tickets t USING (ticket_id)"
        " LEFT JOIN known_customers k ON k.customer_id = t.customer_id"
        " WHERE s.finished_at IS NULL"
        " ORDER BY s.due_at NULLS LAST, s.ticket_id, s.stage_key"
    )
    lines = [board_line(row, rules[TicketStage(row["stage"])], now) for row in rows]
    order = {"overdue": 0, "at_risk": 1, "on_track": 2, "waiting_for_sales": 3}
    return sorted(lines, key=lambda line: order[line.status])
