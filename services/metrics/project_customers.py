"""What the events of table 1 (customers) change in the metrics facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.customer_actions import (
    CustomerWentStale,
    NextActionCommitted,
    NextActionCompleted,
    NextActionOverdue,
    NextActionsNotUpdated,
)
from contracts.customer_reports import (
    ProgressReported,
    SupportAnswered,
    SupportAnswerOverdue,
    TargetAllocated,
)
from contracts.customers import (
    CustomerDetailsUpdated,
    CustomerReassigned,
    CustomerRegistered,
    CustomerTierChanged,
    DecisionStateChanged,
    FollowUpKind,
    FollowUpLogged,
)
from services.metrics import facts as f
from services.metrics.facts import Change, EventMeta, Projections


def follow_up_is_traced(e: FollowUpLogged) -> bool:
    """Whether a follow-up leaves a trace a manager can act on (过程留痕).

    The seed names what an untraced "visited the customer" lacks: no competitor news, no
    change of the decision chain recorded. A follow-up counts as traced when it says what
    happened (notes) and records at least one of the two. (Photos are proven on the visit
    task, in table 2.) Imported history is no one's daily work and is not measured.
    """
    learnt = bool((e.competitor_notes or "").strip() or (e.decision_chain_change or "").strip())
    return bool(e.notes.strip()) and learnt


def _customer(meta: EventMeta, customer_id: str, at: datetime, **values: Any) -> Change:
    return Change(
        f.CUSTOMER_CHANGES, (meta.event_id,), {"customer_id": customer_id, "at": at, **values}
    )


def _registered(e: CustomerRegistered, meta: EventMeta) -> list[Change]:
    return [
        _customer(
            meta,
            e.customer_id,
            e.registered_at,
            owner_id=e.owner_id,
            tier=str(e.tier),
            contribution=e.estimated_contribution,
            name=e.name,
        ),
        Change(f.CUSTOMER_FLAGS, (e.customer_id,), {"registered_at": e.registered_at}),
    ]


def _tier(e: CustomerTierChanged, meta: EventMeta) -> list[Change]:
    return [_customer(meta, e.customer_id, e.changed_at, tier=str(e.to_tier))]


def _reassigned(e: CustomerReassigned, meta: EventMeta) -> list[Change]:
    return [_customer(meta, e.customer_id, e.reassigned_at, owner_id=e.to_owner_id)]


def _details(e: CustomerDetailsUpdated, meta: EventMeta) -> list[Change]:
    return [
        _customer(
            meta, e.customer_id, e.updated_at, name=e.name, contribution=e.estimated_contribution
        )
    ]


def _decision(e: DecisionStateChanged, meta: EventMeta) -> list[Change]:
    return [_customer(meta, e.customer_id, e.changed_at, decision_state=str(e.to_state))]


def _follow_up(e: FollowUpLogged, meta: EventMeta) -> list[Change]:
    return [
        Change(
            f.FOLLOW_UPS,
            (e.follow_up_id,),
            {
                "customer_id": e.customer_id,
                "rep_id": e.owner_id,
                "kind": str(e.kind),
                "contacted_at": e.contacted_at,
                "traced": follow_up_is_traced(e),
                "imported": e.kind == FollowUpKind.IMPORTED,
            },
        ),
        Change(f.CUSTOMER_FLAGS, (e.customer_id,), {"last_contact_at": e.contacted_at}),
    ]


def _stale(e: CustomerWentStale, meta: EventMeta) -> list[Change]:
    values = {"stale_basis": e.last_contact_at, "stale_detected_at": e.detected_at}
    return [Change(f.CUSTOMER_FLAGS, (e.customer_id,), values)]


def _red(e: NextActionsNotUpdated, meta: EventMeta) -> list[Change]:
    return [
        Change(f.CUSTOMER_FLAGS, (customer_id,), {"red_flagged_at": e.meeting_at})
        for customer_id in e.customer_ids
    ]


def _committed(e: NextActionCommitted, meta: EventMeta) -> list[Change]:
    return [
        Change(f.CUSTOMER_FLAGS, (e.customer_id,), {"next_action_committed_at": e.committed_at})
    ]


def _next_action(customer_id: str, due_at: datetime, **values: Any) -> Change:
    return Change(f.NEXT_ACTIONS, (customer_id, due_at), values)


def _completed(e: NextActionCompleted, meta: EventMeta) -> list[Change]:
    return [
        _next_action(
            e.customer_id,
            e.due_at,
            owner_id=e.owner_id,
            action_kind=str(e.action_kind),
            completed_at=e.completed_at,
            on_time=e.on_time,
        )
    ]


def _action_overdue(e: NextActionOverdue, meta: EventMeta) -> list[Change]:
    return [
        _next_action(
            e.customer_id,
            e.due_at,
            owner_id=e.owner_id,
            action_kind=str(e.action_kind),
            overdue=True,
        )
    ]


def _reported(e: ProgressReported, meta: EventMeta) -> list[Change]:
    values = {
        "customer_id": e.customer_id,
        "rep_id": e.rep_id,
        "supervisor_id": e.supervisor_id,
        "key_action": str(e.key_action),
        "obstacle": str(e.obstacle),
        "reported_at": e.reported_at,
    }
    return [Change(f.PROGRESS_REPORTS, (e.report_id,), values)]


def _answered(e: SupportAnswered, meta: EventMeta) -> list[Change]:
    values = {"answered_at": e.answered_at, "answered_on_time": e.on_time}
    return [Change(f.PROGRESS_REPORTS, (e.report_id,), values)]


def _answer_overdue(e: SupportAnswerOverdue, meta: EventMeta) -> list[Change]:
    return [Change(f.PROGRESS_REPORTS, (e.report_id,), {"answer_overdue": True})]


def _target(e: TargetAllocated, meta: EventMeta) -> list[Change]:
    key = (e.period, e.parent_id, e.allocated_at)
    return [Change(f.TARGET_ALLOCATIONS, key, {"event": e.model_dump_json()})]


PROJECTIONS: Projections = {
    CustomerRegistered: _registered,
    CustomerTierChanged: _tier,
    CustomerReassigned: _reassigned,
    CustomerDetailsUpdated: _details,
    DecisionStateChanged: _decision,
    FollowUpLogged: _follow_up,
    CustomerWentStale: _stale,
    NextActionsNotUpdated: _red,
    NextActionCommitted: _committed,
    NextActionCompleted: _completed,
    NextActionOverdue: _action_overdue,
    ProgressReported: _reported,
    SupportAnswered: _answered,
    SupportAnswerOverdue: _answer_overdue,
    TargetAllocated: _target,
}
