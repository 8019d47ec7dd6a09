"""An SLA window passing: report the stage and hand it to the next owner of its chain."""

from __future__ import annotations

from datetime import datetime

from contracts.collaboration import TicketEscalated, TicketStage, TicketTimedOut
from salesops.auth import SYSTEM_ACTOR
from salesops.db import DbConnection
from salesops.opsmetrics import OperationalMetrics
from salesops.recording import metadata_for
from salesops.telemetry import annotate_span, ticket_attributes
from salesops.timers import DueTimer, TimerHandler
from services.collaboration import ticket as rules
from services.collaboration.handlers import STAGE_DUE, TicketService, ticket_stream


class StageDeadlines:
    def __init__(self, service: TicketService, metrics: OperationalMetrics | None = None) -> None:
        self.service = service
        self.metrics = metrics

    def handlers(self) -> dict[str, TimerHandler]:
        return {STAGE_DUE: self.stage_due}

    async def stage_due(self, conn: DbConnection, timer: DueTimer) -> None:
        s = self.service
        ticket = await s.load(conn, timer.payload["ticket_id"])
        stage = ticket.stages.get(timer.payload["key"])
        # A window that no longer applies (answered, paused, moved) is simply dropped.
        if stage is None or stage.due_at != datetime.fromisoformat(timer.payload["due_at"]):
            annotate_span(ticket_attributes(ticket.ticket_id))
            return
        level = stage.level + 1
        # The timer's span continues the trace of the command that opened the window.
        annotate_span(ticket_attributes(ticket.ticket_id, stage.stage, stage.team_id, level))
        events = rules.stage_timed_out(
            ticket,
            stage.key,
            level=level,
            chain=s.chain(ticket, TicketStage(stage.stage), stage.team_id),
            rule=s.rules[TicketStage(stage.stage)],
            now=timer.fired_at,
        )
        await s.recorder.record(
            conn,
            ticket_stream(ticket.ticket_id),
            events,
            expected_version=ticket.version,
            metadata=metadata_for(SYSTEM_ACTOR),
        )
        if self.metrics is not None:
            for event in events:
                if isinstance(event, TicketTimedOut | TicketEscalated):
                    self.metrics.ticket_escalations.labels(
                        event.stage.value, type(event).__name__
                    ).inc()
