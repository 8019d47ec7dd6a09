"""The morning meeting check: next actions not updated since the previous meeting go red."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from contracts.customer_actions import NextActionsNotUpdated
from contracts.customers import DecisionState


@dataclass(frozen=True)
class NextActionStatus:
    """What the check needs to know of one customer."""

    customer_id: str
    owner_id: str
    decision_state: DecisionState | None
    next_action_updated_at: datetime | None


def customers_not_updated(
    customers: Iterable[NextActionStatus], *, previous_meeting_at: datetime
) -> dict[str, list[str]]:
    """Per owner rep, the customers whose next action was not updated since the last meeting.

    A customer lost to a competitor needs no next action and is never flagged.
    """
    flagged: dict[str, list[str]] = defaultdict(list)
    for c in customers:
        if c.decision_state == DecisionState.CHOSE_COMPETITOR:
            continue
        if c.next_action_updated_at is None or c.next_action_updated_at < previous_meeting_at:
            flagged[c.owner_id].append(c.customer_id)
    return {owner: sorted(ids) for owner, ids in flagged.items()}


def not_updated_events(
    flagged: dict[str, list[str]],
    supervisors: dict[str, str | None],
    *,
    meeting_at: datetime,
    previous_meeting_at: datetime,
) -> list[NextActionsNotUpdated]:
    """One event per rep listing their flagged customers, copying the direct supervisor."""
    return [
        NextActionsNotUpdated(
            rep_id=rep,
            supervisor_id=supervisors.get(rep),
            customer_ids=ids,
            meeting_at=meeting_at,
            previous_meeting_at=previous_meeting_at,
        )
        for rep, ids in sorted(flagged.items())
    ]
