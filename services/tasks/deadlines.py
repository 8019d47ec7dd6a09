"""The daily to-do card (18:00 local) and the submission deadline, as durable timers."""

from __future__ import annotations

from datetime import date, datetime, time

from contracts.tasks import OpenTask, TaskKind
from salesops.auth import SYSTEM_ACTOR
from salesops.db import DbConnection
from salesops.timers import DailyTimer, DueTimer, TimerHandler, ensure_timer
from services.tasks import cards
from services.tasks.handlers import DAILY_CARD, SUBMISSION_DEADLINE, TaskService


class TaskDeadlines:
    def __init__(self, service: TaskService) -> None:
        self.service = service
        self.cards = DailyTimer(
            DAILY_CARD, lambda: service.policy.business_times.daily_card, service.policy
        )

    def handlers(self) -> dict[str, TimerHandler]:
        return {DAILY_CARD: self.daily_card, SUBMISSION_DEADLINE: self.submission_deadline}

    def _end_of(self, day: date) -> datetime:
        tz = self.service.policy.timezone
        return datetime.combine(day, time.max, tzinfo=tz)

    async def _open_tasks(self, conn: DbConnection, day: date) -> dict[str, list[OpenTask]]:
        rows = await conn.fetch(
            "SELECT task_id, customer_id, rep_id, kind, title, scheduled_at FROM tasks"
            " WHERE status IN ('planned', 'rejected') AND scheduled_at <= $1",
            self._end_of(day),
        )
        return cards.open_tasks_by_rep(
            (
                (
                    r["rep_id"],
                    OpenTask(
                        task_id=r["task_id"],
                        customer_id=r["customer_id"],
                        kind=TaskKind(r["kind"]),
                        title=r["title"],
                        scheduled_at=r["scheduled_at"],
                    ),
                )
                for r in rows
            ),
            until=self._end_of(day),
        )

    def _deadline_after(self, card_at: datetime) -> datetime:
        times = self.service.policy.business_times
        return self.service.policy.next_business_time(times.task_submission_deadline, card_at)

    async def daily_card(self, conn: DbConnection, timer: DueTimer) -> None:
        s = self.service
        card_at = timer.due_at
        card_date = s.local_date(card_at)
        deadline = self._deadline_after(card_at)
        for card in cards.cards(
            await self._open_tasks(conn, card_date),
            card_date=card_date,
            issued_at=timer.fired_at,
            submit_by=deadline,
        ):
            await s.recorder.record(
                conn,
                f"card-{card_date}-{card.rep_id}",
                [card],
                expected_version=0,
                metadata=s.metadata(SYSTEM_ACTOR),
            )
        await ensure_timer(
            conn,
            f"tasks-deadline:{card_date}",
            kind=SUBMISSION_DEADLINE,
            due_at=deadline,
            payload={"card_date": card_date.isoformat()},
        )
        await self.cards.after_firing(conn, timer)

    async def submission_deadline(self, conn: DbConnection, timer: DueTimer) -> None:
        s = self.service
        card_date = date.fromisoformat(timer.payload["card_date"])
        still_open = await self._open_tasks(conn, card_date)
        supervisors = {}
        for rep in still_open:
            manager = s.directory.manager_of(rep)
            supervisors[rep] = None if manager is None else manager.id
        for event in cards.overdue(
            still_open, supervisors, card_date=card_date, deadline_at=timer.due_at
        ):
            await s.recorder.record(
                conn,
                f"overdue-{card_date}-{event.rep_id}",
                [event],
                expected_version=0,
                metadata=s.metadata(SYSTEM_ACTOR),
            )

    async def on_start(self) -> None:
        await self.cards.ensure_pending(self.service.pool, self.service.clock.now())
