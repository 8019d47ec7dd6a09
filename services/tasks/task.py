"""The task aggregate of table 2: pure rules, no I/O, no clock reads.

A task is planned for a customer at a scheduled time and closed by submitting the proof
its kind asks for: a visit photo taken near the scheduled time, a proposal PDF named
after the customer and the day, or a quote whose concession over the threshold locks the
task until the sales director decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel

from contracts.tasks import (
    ConcessionApproved,
    ConcessionExceeded,
    ConcessionRejected,
    Evidence,
    EvidenceKind,
    TaskKind,
    TaskPlanned,
    TaskSubmitted,
)
from salesops.policy import Thresholds
from salesops.problems import DomainError, Forbidden, StateConflict
from services.tasks.evidence import PdfEvidence, PhotoEvidence, check_capture_time

TITLE_MAX_CHARS = 200
NOTE_MAX_CHARS = 2000
_CENT = Decimal("0.01")


class TaskStatus(StrEnum):
    PLANNED = "planned"
    SUBMITTED = "submitted"
    LOCKED = "locked"  # a quote over the threshold, waiting for the sales director
    APPROVED = "approved"
    REJECTED = "rejected"  # the director refused the quote: the rep submits a new one


OPEN_STATUSES = frozenset({TaskStatus.PLANNED, TaskStatus.REJECTED})


@dataclass(frozen=True)
class Task:
    task_id: str
    customer_id: str
    rep_id: str
    kind: TaskKind
    title: str
    scheduled_at: datetime
    status: TaskStatus = TaskStatus.PLANNED
    concession_pct: Decimal | None = None
    version: int = 0


def concession_pct(target_price: Decimal, deal_price: Decimal) -> Decimal:
    """(target - deal) / target x 100, to the cent of a percent (half up), as people read it.

    12.004% reads, and counts, as 12.00%: the threshold is applied to the figure shown.
    """
    if target_price <= 0:
        raise DomainError("must be greater than 0", field="target_price")
    if deal_price < 0:
        raise DomainError("must not be negative", field="deal_price")
    return ((target_price - deal_price) / target_price * 100).quantize(_CENT, ROUND_HALF_UP)


def plan_task(
    *,
    task_id: str,
    customer_id: str,
    rep_id: str,
    kind: TaskKind,
    title: str,
    scheduled_at: datetime,
    actor_id: str,
    now: datetime,
) -> list[BaseModel]:
    text = title.strip()
    if not text:
        raise DomainError("must not be blank", field="title")
    if len(text) > TITLE_MAX_CHARS:
        raise DomainError(f"is {len(text)} characters; at most {TITLE_MAX_CHARS}", field="title")
    return [
        TaskPlanned(
            task_id=task_id,
            customer_id=customer_id,
            rep_id=rep_id,
            kind=kind,
            title=text,
            scheduled_at=scheduled_at,
            planned_by=actor_id,
            planned_at=now,
        )
    ]


def _ensure_open(task: Task, kind: TaskKind) -> None:
    if task.status == TaskStatus.LOCKED:
        raise StateConflict(
            f"the task is locked: its {task.concession_pct}% concession waits for the sales "
            "director's decision"
        )
    if task.status not in OPEN_STATUSES:
        raise StateConflict(f"the task was already submitted ({task.status})")
    if task.kind != kind:
        raise DomainError(f"this is a {task.kind} task, not a {kind} task", field="kind")


def _submitted(
    task: Task,
    now: datetime,
    evidence: list[Evidence],
    *,
    target_price: Decimal | None = None,
    deal_price: Decimal | None = None,
    pct: Decimal | None = None,
    locked: bool = False,
) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=task.task_id,
        customer_id=task.customer_id,
        rep_id=task.rep_id,
        kind=task.kind,
        scheduled_at=task.scheduled_at,
        submitted_at=now,
        evidence_compliant=bool(evidence),
        evidence=tuple(evidence),
        target_price=target_price,
        deal_price=deal_price,
        concession_pct=pct,
        locked=locked,
    )


def submit_visit(
    task: Task, photo: PhotoEvidence, *, tolerance: timedelta, now: datetime
) -> list[BaseModel]:
    """A visit is proven by a photo taken within the tolerance of the scheduled time."""
    _ensure_open(task, TaskKind.VISIT)
    check_capture_time(photo.captured_at, task.scheduled_at, tolerance)
    return [
        _submitted(
            task,
            now,
            [
                Evidence(
                    kind=EvidenceKind.PHOTO,
                    sha256=photo.sha256,
                    capture_time=photo.captured_at,
                    device_id=photo.device_id,
                )
            ],
        )
    ]


def submit_proposal(task: Task, pdf: PdfEvidence, *, now: datetime) -> list[BaseModel]:
    """A proposal is proven by the PDF (already checked against the customer and the day)."""
    _ensure_open(task, TaskKind.PROPOSAL)
    return [
        _submitted(
            task, now, [Evidence(kind=EvidenceKind.PDF, sha256=pdf.sha256, file_name=pdf.file_name)]
        )
    ]


def submit_quote(
    task: Task,
    target_price: Decimal,
    deal_price: Decimal,
    *,
    thresholds: Thresholds,
    now: datetime,
) -> list[BaseModel]:
    """A quote over the concession threshold (strictly) locks the task for the director."""
    _ensure_open(task, TaskKind.QUOTE)
    pct = concession_pct(target_price, deal_price)
    locked = thresholds.concession_needs_approval(pct)
    # The quote's own proof is its figures; their hash ties the event to exactly them.
    digest = hashlib.sha256(f"{target_price}|{deal_price}".encode()).hexdigest()
    events: list[BaseModel] = [
        _submitted(
            task,
            now,
            [Evidence(kind=EvidenceKind.QUOTE, sha256=digest)],
            target_price=target_price,
            deal_price=deal_price,
            pct=pct,
            locked=locked,
        )
    ]
    if locked:
        events.append(
            ConcessionExceeded(
                task_id=task.task_id,
                customer_id=task.customer_id,
                rep_id=task.rep_id,
                target_price=target_price,
                deal_price=deal_price,
                concession_pct=pct,
                threshold_pct=thresholds.concession_approval_threshold_pct,
            )
        )
    return events


def submit_other(
    task: Task, note: str, *, evidence: list[Evidence], now: datetime
) -> list[BaseModel]:
    """Any other task: a note is required; an attached file makes its evidence compliant."""
    _ensure_open(task, TaskKind.OTHER)
    if not note.strip():
        raise DomainError("must not be blank", field="note")
    if len(note.strip()) > NOTE_MAX_CHARS:
        raise DomainError(f"at most {NOTE_MAX_CHARS} characters", field="note")
    return [_submitted(task, now, evidence)]


def decide_concession(
    task: Task,
    *,
    approve: bool,
    reason: str,
    actor_id: str,
    actor_is_director: bool,
    now: datetime,
) -> list[BaseModel]:
    """Only a sales director decides, never on their own quote, always with a reason."""
    if not actor_is_director:
        raise Forbidden("only a sales director approves or rejects a concession")
    if actor_id == task.rep_id:
        raise Forbidden("a sales director does not decide on their own quote")
    if task.status != TaskStatus.LOCKED or task.concession_pct is None:
        raise StateConflict("the task has no concession waiting for a decision")
    if not reason.strip():
        raise DomainError("a decision needs a reason", field="reason")
    decided = ConcessionApproved if approve else ConcessionRejected
    return [
        decided(
            task_id=task.task_id,
            customer_id=task.customer_id,
            rep_id=task.rep_id,
            concession_pct=task.concession_pct,
            decided_by=actor_id,
            reason=reason.strip(),
            decided_at=now,
        )
    ]


def fold(events: Iterable[BaseModel]) -> Task | None:
    task: Task | None = None
    for version, event in enumerate(events, start=1):
        match event:
            case TaskPlanned():
                task = Task(
                    event.task_id,
                    event.customer_id,
                    event.rep_id,
                    event.kind,
                    event.title,
                    event.scheduled_at,
                )
            case TaskSubmitted() if task is not None:
                status = TaskStatus.LOCKED if event.locked else TaskStatus.SUBMITTED
                task = replace(task, status=status, concession_pct=event.concession_pct)
            case ConcessionApproved() if task is not None:
                task = replace(task, status=TaskStatus.APPROVED)
            case ConcessionRejected() if task is not None:
                task = replace(task, status=TaskStatus.REJECTED)
        if task is not None:
            task = replace(task, version=version)
    return task
