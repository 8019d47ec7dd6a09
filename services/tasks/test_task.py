"""The rules of table 2, at their boundaries, without a database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import BaseModel

from contracts.tasks import (
    ConcessionApproved,
    ConcessionExceeded,
    ConcessionRejected,
    TaskKind,
    TaskSubmitted,
)
from salesops.policy import Policy
from salesops.problems import DomainError, Forbidden, StateConflict
from services.tasks import task as rules
from services.tasks.evidence import EvidenceRejected, PhotoEvidence
from services.tasks.task import Task, TaskStatus

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
THRESHOLDS = Policy().thresholds
TOLERANCE = THRESHOLDS.photo_capture_tolerance


def planned(kind: TaskKind = TaskKind.QUOTE) -> Task:
    task = rules.fold(
        rules.plan_task(
            task_id="t-1",
            customer_id="c-1",
            rep_id="rep-1",
            kind=kind,
            title="报价",
            scheduled_at=T0,
            actor_id="rep-1",
            now=T0 - timedelta(days=1),
        )
    )
    assert task is not None
    return task


def then(task: Task, events: Sequence[BaseModel]) -> Task:
    folded = rules.fold([*_plan_events(task), *events])
    assert folded is not None
    return folded


def _plan_events(task: Task) -> list[BaseModel]:
    return rules.plan_task(
        task_id=task.task_id,
        customer_id=task.customer_id,
        rep_id=task.rep_id,
        kind=task.kind,
        title=task.title,
        scheduled_at=task.scheduled_at,
        actor_id=task.rep_id,
        now=T0,
    )


def quote(deal: str, target: str = "100000") -> list[BaseModel]:
    return rules.submit_quote(
        planned(), Decimal(target), Decimal(deal), thresholds=THRESHOLDS, now=T0
    )


def test_a_concession_of_exactly_12_percent_needs_no_approval() -> None:
    (submitted,) = quote("88000")
    assert isinstance(submitted, TaskSubmitted)
    assert (submitted.concession_pct, submitted.locked) == (Decimal("12.00"), False)


def test_a_concession_of_12_01_percent_locks_the_task_for_the_director() -> None:
    submitted, exceeded = quote("87990")
    assert isinstance(submitted, TaskSubmitted)
    assert submitted.locked
    assert isinstance(exceeded, ConcessionExceeded)
    assert (exceeded.concession_pct, exceeded.threshold_pct) == (Decimal("12.01"), Decimal("12"))


def test_the_concession_is_exact_decimal_arithmetic_rounded_half_up_to_the_cent() -> None:
    assert rules.concession_pct(Decimal("3"), Decimal("2")) == Decimal("33.33")
    assert rules.concession_pct(Decimal("100000"), Decimal("87995")) == Decimal("12.01")
    assert rules.concession_pct(Decimal("100000"), Decimal("87996")) == Decimal("12.00")
    assert rules.concession_pct(Decimal("100"), Decimal("110")) == Decimal("-10.00")


def test_a_target_price_of_zero_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        rules.concession_pct(Decimal("0"), Decimal("1"))
    assert refused.value.field == "target_price"


def test_a_locked_task_cannot_be_changed_until_the_director_decides() -> None:
    locked = then(planned(), quote("80000"))
    assert locked.status == TaskStatus.LOCKED
    with pytest.raises(StateConflict, match="locked"):
        rules.submit_quote(
            locked, Decimal("100000"), Decimal("99000"), thresholds=THRESHOLDS, now=T0
        )


def test_only_a_sales_director_decides_and_not_on_their_own_quote() -> None:
    locked = then(planned(), quote("80000"))
    with pytest.raises(Forbidden, match="only a sales director"):
        rules.decide_concession(
            locked, approve=True, reason="ok", actor_id="gl-1", actor_is_director=False, now=T0
        )
    own = replace(locked, rep_id="sd-1")
    with pytest.raises(Forbidden, match="own quote"):
        rules.decide_concession(
            own, approve=True, reason="ok", actor_id="sd-1", actor_is_director=True, now=T0
        )


def test_a_decision_needs_a_reason() -> None:
    locked = then(planned(), quote("80000"))
    with pytest.raises(DomainError) as refused:
        rules.decide_concession(
            locked, approve=False, reason="  ", actor_id="sd-1", actor_is_director=True, now=T0
        )
    assert refused.value.field == "reason"


def test_approval_closes_the_task_and_rejection_reopens_it_for_a_new_quote() -> None:
    locked = then(planned(), quote("80000"))
    (approved,) = rules.decide_concession(
        locked, approve=True, reason="战略客户", actor_id="sd-1", actor_is_director=True, now=T0
    )
    assert isinstance(approved, ConcessionApproved)
    assert then(planned(), [*quote("80000"), approved]).status == TaskStatus.APPROVED

    (rejected,) = rules.decide_concession(
        locked, approve=False, reason="低于成本", actor_id="sd-1", actor_is_director=True, now=T0
    )
    assert isinstance(rejected, ConcessionRejected)
    reopened = then(planned(), [*quote("80000"), rejected])
    assert reopened.status == TaskStatus.REJECTED
    assert rules.submit_quote(
        reopened, Decimal("100000"), Decimal("95000"), thresholds=THRESHOLDS, now=T0
    )


def test_a_decision_without_a_locked_quote_is_a_conflict() -> None:
    with pytest.raises(StateConflict):
        rules.decide_concession(
            planned(), approve=True, reason="x", actor_id="sd-1", actor_is_director=True, now=T0
        )


def photo(taken: datetime) -> PhotoEvidence:
    return PhotoEvidence(
        sha256="ab" * 32,
        media_type="image/jpeg",
        captured_at=taken,
        device_id="HUAWEI P60",
        width=10,
        height=10,
    )


def test_a_visit_photo_at_the_tolerance_edge_is_accepted_a_second_later_refused() -> None:
    visit = planned(TaskKind.VISIT)
    (submitted,) = rules.submit_visit(visit, photo(T0 + TOLERANCE), tolerance=TOLERANCE, now=T0)
    assert isinstance(submitted, TaskSubmitted)
    assert submitted.evidence_compliant
    assert submitted.evidence[0].device_id == "HUAWEI P60"
    with pytest.raises(EvidenceRejected, match="after the scheduled time"):
        rules.submit_visit(
            visit, photo(T0 + TOLERANCE + timedelta(seconds=1)), tolerance=TOLERANCE, now=T0
        )


def test_evidence_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(DomainError, match="quote task"):
        rules.submit_visit(planned(TaskKind.QUOTE), photo(T0), tolerance=TOLERANCE, now=T0)


def test_a_title_of_201_characters_is_refused() -> None:
    with pytest.raises(DomainError, match="201 characters"):
        rules.plan_task(
            task_id="t",
            customer_id="c",
            rep_id="r",
            kind=TaskKind.OTHER,
            title="访" * 201,
            scheduled_at=T0,
            actor_id="r",
            now=T0,
        )


def test_an_other_task_needs_a_note() -> None:
    with pytest.raises(DomainError) as refused:
        rules.submit_other(planned(TaskKind.OTHER), " ", evidence=[], now=T0)
    assert refused.value.field == "note"
