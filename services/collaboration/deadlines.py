"""An SLA window passing: report the stage and hand it to the next owner of its chain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from contracts.collaboration import TicketEscalated, TicketStage, TicketTimedOut
from salesops.auth import SYSTEM_ACTOR
from salesops.db import DbConnection
from salesops.eventstore import StreamAppend
from salesops.opsmetrics import OperationalMetrics
from salesops.recording import metadata_for
from salesops.telemetry import annotate_span, ticket_attributes
from salesops.timers import Batched, DueTimer, TimerHandler
from services.collaboration import ticket as rules
from services.collaboration.handlers import STAGE_DUE, TicketService, ticket_stream
from services.collaboration.ticket import Ticket


class StageDeadlines:
    def __init__(self, service: TicketService, metrics: OperationalMetrics | None = None) -> None:
        self.service = service
        self.metrics = metrics

    def handlers(self) -> dict[str, TimerHandler]:
        return {STAGE_DUE: Batched(one=self.stage_due, many=self.stages_due)}

    def _decide(self, ticket: Ticket, timer: DueTimer) -> list[BaseModel]:
        """What the window passing records (nothing if it no longer applies)."""
        s = self.service
        stage = ticket.stages.get(timer.payload["key"])
        # A window that no longer applies (answered, paused, moved) is simply dropped.
        if stage is None or stage.due_at != datetime.fromisoformat(timer.payload["due_at"]):
            annotate_span(ticket_attributes(ticket.ticket_id))
            return []
        level = stage.level + 1
        # The timer's span continues the trace of the command that opened the window.
        annotate_span(ticket_attributes(ticket.ticket_id, stage.stage, stage.team_id, level))
        return rules.stage_timed_out(
            ticket,
            stage.key,
            level=level,
            chain=s.chain(ticket, TicketStage(stage.stage), stage.team_id),
            rule=s.rules[TicketStage(stage.stage)],
            now=timer.fired_at,
        )

    async def stage_due(self, conn: DbConnection, timer: DueTimer) -> None:
        ticket = await self.service.load(conn, timer.payload["ticket_id"])
        events = self._decide(ticket, timer)
        await self.service.recorder.record(
            conn,
            ticket_stream(ticket.ticket_id),
            events,
            expected_version=ticket.version,
            metadata=metadata_for(SYSTEM_ACTOR),
        )
        self._count(events)

    async def stages_due(self, conn: DbConnection, timers: Sequence[DueTimer]) -> None:
        """Many windows at once: one read of the tickets, one append for all of them.

        A ticket with two windows in the batch (two tech groups) has its second one
        handled after the batch, on the ticket as the first left it.
        """
        first: dict[str, DueTimer] = {}
        later: list[DueTimer] = []
        for timer in timers:
            ticket_id = timer.payload["ticket_id"]
            if ticket_id in first:
                later.append(timer)
            else:
                first[ticket_id] = timer
        tickets = await self.service.load_many(conn, list(first))
        batch: list[StreamAppend] = []
        decided: list[BaseModel] = []
        for ticket_id, timer in first.items():
            ticket = tickets[ticket_id]
            events = self._decide(ticket, timer)
            if events:
                batch.append(StreamAppend(ticket_stream(ticket_id), events, ticket.version))
                decided += events
        if batch:
            await self.service.recorder.record_many(
                conn, batch, metadata=metadata_for(SYSTEM_ACTOR)
            )
            self._count(decided)
        for timer in later:
            await self.stage_due(conn, timer)

    def _count(self, events: Sequence[BaseModel]) -> None:
        if self.metrics is not None:
            for event in events:
                if isinstance(event, TicketTimedOut | TicketEscalated):
                    self.metrics.ticket_escalations.labels(
                        event.stage.value, type(event).__name__
                    ).inc()
