"""How the ``TargetAllocated`` events of a period add up to each node's target.

Every reader of the published language must read a period's allocations the same way (the
customers service deciding a new split, the metrics service measuring penetration), so the
reading lives here, beside the event, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from contracts.customer_reports import TargetAllocated


@dataclass(frozen=True)
class TargetBook:
    """The targets of one period as allocated so far: node id -> amount, and who split each.

    ``allocations`` holds the latest split of each parent (a later one replaces the
    earlier). When a parent's own share changes, its older split no longer adds up: it
    stays in ``allocations`` but is listed in ``stale`` and gives its children no target
    until it is made again.
    """

    period: str
    targets: Mapping[str, Decimal] = field(default_factory=dict)
    allocations: Mapping[str, TargetAllocated] = field(default_factory=dict)
    stale: frozenset[str] = frozenset()

    @classmethod
    def fold(cls, period: str, events: Iterable[TargetAllocated]) -> TargetBook:
        """The book after ``events``; allocations of other periods are ignored."""
        latest = {e.parent_id: e for e in events if e.period == period}
        given = {share.node_id for e in latest.values() for share in e.shares}
        targets = {
            e.parent_id: e.parent_amount for e in latest.values() if e.parent_id not in given
        }
        pending = list(targets)
        while pending:
            allocation = latest.get(pending.pop())
            if allocation is None or allocation.parent_amount != targets[allocation.parent_id]:
                continue
            for share in allocation.shares:
                if share.node_id not in targets:
                    targets[share.node_id] = share.amount
                    pending.append(share.node_id)
        stale = frozenset(
            parent_id
            for parent_id, allocation in latest.items()
            if targets.get(parent_id) != allocation.parent_amount
        )
        return cls(period, targets, latest, stale)
