"""The one-form progress report: filed by the rep, answered by the supervisor within 4 h."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pydantic import BaseModel

from contracts.customer_reports import (
    KeyAction,
    Obstacle,
    ProgressReported,
    SupportAnswer,
    SupportAnswered,
    SupportAnswerOverdue,
)
from salesops.problems import DomainError, Forbidden, StateConflict


@dataclass(frozen=True)
class ProgressReport:
    report_id: str
    customer_id: str
    rep_id: str
    supervisor_id: str
    answer_due_at: datetime
    answered: bool = False
    escalated_to: str | None = None
    version: int = 0


def file_progress_report(
    *,
    report_id: str,
    customer_id: str,
    rep_id: str,
    supervisor_id: str | None,
    key_action: KeyAction,
    obstacle: Obstacle,
    support_needed: str,
    max_chars: int,
    answer_window: timedelta,
    now: datetime,
) -> list[BaseModel]:
    text = support_needed.strip()
    if not text:
        raise DomainError("must not be blank", field="support_needed")
    if len(text) > max_chars:  # characters, not bytes: a Chinese character counts once
        raise DomainError(f"is {len(text)} characters; at most {max_chars}", field="support_needed")
    if supervisor_id is None:
        raise StateConflict(f"{rep_id} has no supervisor in the org directory to answer")
    return [
        ProgressReported(
            report_id=report_id,
            customer_id=customer_id,
            rep_id=rep_id,
            supervisor_id=supervisor_id,
            key_action=key_action,
            obstacle=obstacle,
            support_needed=text,
            reported_at=now,
            answer_due_at=now + answer_window,
        )
    ]


def answer_support(
    report: ProgressReport,
    answer: SupportAnswer,
    note: str | None,
    *,
    actor_id: str,
    now: datetime,
) -> list[BaseModel]:
    """The supervisor (or, once escalated, the person it went to) answers, once."""
    if actor_id not in {report.supervisor_id, report.escalated_to}:
        raise Forbidden(f"only {report.supervisor_id} answers this progress report")
    if report.answered:
        raise StateConflict("this progress report has been answered already")
    return [
        SupportAnswered(
            report_id=report.report_id,
            customer_id=report.customer_id,
            answered_by=actor_id,
            answer=answer,
            note=(note or "").strip() or None,
            answered_at=now,
            on_time=now <= report.answer_due_at,
        )
    ]


def support_answer_overdue(
    report: ProgressReport, *, escalate_to: str | None, now: datetime
) -> list[BaseModel]:
    """Escalate once, strictly after the due time, if still unanswered."""
    if report.answered or report.escalated_to is not None or now <= report.answer_due_at:
        return []
    return [
        SupportAnswerOverdue(
            report_id=report.report_id,
            customer_id=report.customer_id,
            supervisor_id=report.supervisor_id,
            due_at=report.answer_due_at,
            escalated_to_id=escalate_to,
            detected_at=now,
        )
    ]


def fold(events: Iterable[BaseModel]) -> ProgressReport | None:
    report: ProgressReport | None = None
    for version, event in enumerate(events, start=1):
        match event:
            case ProgressReported():
                report = ProgressReport(
                    event.report_id,
                    event.customer_id,
                    event.rep_id,
                    event.supervisor_id,
                    event.answer_due_at,
                )
            case SupportAnswered() if report is not None:
                report = replace(report, answered=True)
            case SupportAnswerOverdue() if report is not None:
                # An overdue report escalated past the top of the line still counts as escalated.
                report = replace(report, escalated_to=event.escalated_to_id or "")
        if report is not None:
            report = replace(report, version=version)
    return report
