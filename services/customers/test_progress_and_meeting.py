"""The progress report and the morning meeting check, at their boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from contracts.customer_reports import (
    KeyAction,
    Obstacle,
    SupportAnswer,
    SupportAnswered,
    SupportAnswerOverdue,
)
from contracts.customers import DecisionState
from salesops.policy import Policy
from salesops.problems import DomainError, Forbidden, StateConflict
from services.customers import meeting, progress

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
POLICY = Policy()


def filed(support: str = "请协调技术部确认参数") -> progress.ProgressReport:
    report = progress.fold(
        progress.file_progress_report(
            report_id="pr-1",
            customer_id="cus-1",
            rep_id="rep-1",
            supervisor_id="gl-1",
            key_action=KeyAction.QUOTED,
            obstacle=Obstacle.BUDGET_FROZEN,
            support_needed=support,
            max_chars=POLICY.thresholds.support_needed_max_chars,
            answer_window=POLICY.sla.progress_report_answer,
            now=T0,
        )
    )
    assert report is not None
    return report


def test_support_text_of_50_chinese_characters_is_accepted_51_refused() -> None:
    assert filed("需" * 50).answer_due_at == T0 + timedelta(hours=4)
    with pytest.raises(DomainError, match="51 characters; at most 50") as refused:
        filed("需" * 51)
    assert refused.value.field == "support_needed"


def test_blank_support_text_is_refused() -> None:
    with pytest.raises(DomainError):
        filed("   ")


def test_only_the_supervisor_answers_and_only_once() -> None:
    report = filed()
    with pytest.raises(Forbidden):
        progress.answer_support(report, SupportAnswer.COORDINATED, None, actor_id="gl-2", now=T0)
    events = progress.answer_support(
        report,
        SupportAnswer.NEED_MORE_INFO,
        "报价单发我",
        actor_id="gl-1",
        now=T0 + timedelta(hours=4),
    )
    (answered,) = events
    assert isinstance(answered, SupportAnswered)
    assert answered.on_time
    answered_report = progress.fold([*_filed_events(), answered])
    assert answered_report is not None
    with pytest.raises(StateConflict):
        progress.answer_support(
            answered_report,
            SupportAnswer.COORDINATED,
            None,
            actor_id="gl-1",
            now=T0,
        )


def _filed_events() -> list[BaseModel]:
    return list(
        progress.file_progress_report(
            report_id="pr-1",
            customer_id="cus-1",
            rep_id="rep-1",
            supervisor_id="gl-1",
            key_action=KeyAction.QUOTED,
            obstacle=Obstacle.BUDGET_FROZEN,
            support_needed="x",
            max_chars=50,
            answer_window=timedelta(hours=4),
            now=T0,
        )
    )


def test_an_unanswered_report_escalates_once_just_after_4_hours() -> None:
    report = filed()
    due = T0 + timedelta(hours=4)
    assert progress.support_answer_overdue(report, escalate_to="sm-1", now=due) == []
    (overdue,) = progress.support_answer_overdue(
        report, escalate_to="sm-1", now=due + timedelta(microseconds=1)
    )
    assert isinstance(overdue, SupportAnswerOverdue)
    escalated = progress.fold([*_filed_events(), overdue])
    assert escalated is not None
    assert (
        progress.support_answer_overdue(escalated, escalate_to="sm-1", now=due + timedelta(hours=1))
        == []
    )
    # Once escalated, the person it went to may answer too.
    assert progress.answer_support(
        escalated, SupportAnswer.COORDINATED, None, actor_id="sm-1", now=due + timedelta(hours=1)
    )


# -- morning meeting --------------------------------------------------------------------------

PREVIOUS = T0 - timedelta(days=1)


def status(
    cid: str, owner: str, updated: datetime | None, state: DecisionState | None = None
) -> meeting.NextActionStatus:
    return meeting.NextActionStatus(cid, owner, state, updated)


def test_customers_not_updated_since_the_previous_meeting_are_flagged_per_rep() -> None:
    flagged = meeting.customers_not_updated(
        [
            status("c1", "rep-1", PREVIOUS),  # at the meeting: counts
            status("c2", "rep-1", PREVIOUS - timedelta(seconds=1)),  # just before: red
            status("c3", "rep-1", None),  # never: red
            status("c4", "rep-2", None, DecisionState.CHOSE_COMPETITOR),  # lost: never red
            status("c5", "rep-2", None),
        ],
        previous_meeting_at=PREVIOUS,
    )
    assert flagged == {"rep-1": ["c2", "c3"], "rep-2": ["c5"]}


def test_one_event_per_rep_copies_the_direct_supervisor() -> None:
    events = meeting.not_updated_events(
        {"rep-1": ["c2", "c3"], "rep-2": ["c5"]},
        {"rep-1": "gl-1", "rep-2": None},
        meeting_at=T0,
        previous_meeting_at=PREVIOUS,
    )
    assert [(e.rep_id, e.supervisor_id, e.customer_ids) for e in events] == [
        ("rep-1", "gl-1", ["c2", "c3"]),
        ("rep-2", None, ["c5"]),
    ]
