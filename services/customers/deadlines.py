"""What happens when a deadline of table 1 passes: the timer handlers of the service.

Each runs in the poller's transaction (so the events it records and the timer being
marked fired commit together) and acts as the system, not as a person.
"""

from __future__ import annotations

from datetime import datetime

from salesops.auth import SYSTEM_ACTOR
from salesops.db import DbConnection
from salesops.recording import published_events
from salesops.timers import DailyTimer, DueTimer, TimerHandler
from services.customers import meeting, obligations, progress, queries
from services.customers.handlers import (
    MORNING_MEETING,
    NEGOTIATION_JOIN_DUE,
    NEXT_ACTION_DUE,
    STALE_CHECK,
    SUPPORT_ANSWER_DUE,
    CustomerService,
    customer_stream,
)
from services.customers.reports import report_stream


class Deadlines:
    """The timer handlers, bound to the service's handlers."""

    def __init__(self, service: CustomerService) -> None:
        self.service = service
        self.meetings = DailyTimer(
            MORNING_MEETING, lambda: service.policy.business_times.morning_meeting, service.policy
        )

    def handlers(self) -> dict[str, TimerHandler]:
        return {
            NEGOTIATION_JOIN_DUE: self.negotiation_join_due,
            NEXT_ACTION_DUE: self.next_action_due,
            STALE_CHECK: self.stale_check,
            SUPPORT_ANSWER_DUE: self.support_answer_due,
            MORNING_MEETING: self.morning_meeting,
        }

    async def negotiation_join_due(self, conn: DbConnection, timer: DueTimer) -> None:
        s = self.service
        c = await s.load(conn, timer.payload["customer_id"])
        escalate_to = s.manager_id_of(c.negotiation.manager_id) if c.negotiation else None
        events = obligations.negotiation_join_overdue(
            c, timer.payload["request_id"], escalate_to=escalate_to, now=timer.fired_at
        )
        await s.recorder.record(
            conn,
            customer_stream(c.customer_id),
            events,
            expected_version=c.version,
            metadata=s.metadata(SYSTEM_ACTOR),
        )

    async def next_action_due(self, conn: DbConnection, timer: DueTimer) -> None:
        s = self.service
        c = await s.load(conn, timer.payload["customer_id"])
        due_at = datetime.fromisoformat(timer.payload["due_at"])
        events = obligations.next_action_overdue(c, due_at, now=timer.fired_at)
        await s.recorder.record(
            conn,
            customer_stream(c.customer_id),
            events,
            expected_version=c.version,
            metadata=s.metadata(SYSTEM_ACTOR),
        )

    async def stale_check(self, conn: DbConnection, timer: DueTimer) -> None:
        s = self.service
        c = await s.load(conn, timer.payload["customer_id"])
        events = obligations.went_stale(c, thresholds=s.policy.thresholds, now=timer.fired_at)
        await s.recorder.record(
            conn,
            customer_stream(c.customer_id),
            events,
            expected_version=c.version,
            metadata=s.metadata(SYSTEM_ACTOR),
        )

    async def support_answer_due(self, conn: DbConnection, timer: DueTimer) -> None:
        s = self.service
        stream = report_stream(timer.payload["report_id"])
        report = progress.fold(published_events(await s.store.read_stream(stream, conn=conn)))
        if report is None:
            return
        events = progress.support_answer_overdue(
            report, escalate_to=s.manager_id_of(report.supervisor_id), now=timer.fired_at
        )
        await s.recorder.record(
            conn, stream, events, expected_version=report.version, metadata=s.metadata(SYSTEM_ACTOR)
        )

    async def morning_meeting(self, conn: DbConnection, timer: DueTimer) -> None:
        """Flag red every customer whose next action was not updated since the last meeting."""
        s = self.service
        meeting_time = s.policy.business_times.morning_meeting
        meeting_at = timer.due_at
        previous = s.policy.previous_business_time(meeting_at, meeting_time)
        statuses = [
            meeting.NextActionStatus(
                r["customer_id"], r["owner_id"], r["decision_state"], r["next_action_updated_at"]
            )
            for r in await queries.next_action_statuses(conn)
        ]
        flagged = meeting.customers_not_updated(statuses, previous_meeting_at=previous)
        supervisors = {rep: s.manager_id_of(rep) for rep in flagged}
        for event in meeting.not_updated_events(
            flagged, supervisors, meeting_at=meeting_at, previous_meeting_at=previous
        ):
            # One stream per rep and meeting: a second firing could not flag twice.
            await s.recorder.record(
                conn,
                f"meeting-{meeting_at:%Y%m%dT%H%M}-{event.rep_id}",
                [event],
                expected_version=0,
                metadata=s.metadata(SYSTEM_ACTOR),
            )
        await self.meetings.after_firing(conn, timer)

    async def on_start(self) -> None:
        """Make sure the next morning meeting is scheduled (idempotent across replicas)."""
        await self.meetings.ensure_pending(self.service.pool, self.service.clock.now())
