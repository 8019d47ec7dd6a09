"""An SLA window passing: report the stage and hand it to the next owner of its chain."""

from __future__ import annotations

from datetime import datetime

from contracts.collaboration import TicketStage
from salesops.auth import SYSTEM_ACTOR
from salesops.db import DbConnection
from salesops.recording import metadata_for
from salesops.timers import DueTimer, TimerHandler
from services.collaboration import ticket as rules
from services.collaboration.handlers import STAGE_DUE, TicketService, ticket_stream


class StageDeadlines:
    def __init__(self, service: TicketService) -> None:
        self.service = service

    def handlers(self) -> dict[str, TimerHandler]:
        return {STAGE_DUE: self.stage_due}

    async def stage_due(self, conn: DbConnection, timer: DueTimer) -> None:
        s = self.service
        ticket = await s.load(conn, timer.payload["ticket_id"])
        stage = ticket.stages.get(timer.payload["key"])
        # A window that no longer applies (answered, paused, moved) is simply dropped.
        if stage is None or stage.due_at != datetime.fromisoformat(timer.payload["due_at"]):
            return
        events = rules.stage_timed_out(
            ticket,
            stage.key,
            level=stage.level + 1,
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
