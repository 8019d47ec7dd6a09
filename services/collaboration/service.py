"""Wiring of the collaboration service onto the shared chassis."""

from __future__ import annotations

from dataclasses import dataclass

from salesops import known_customers
from salesops.runtime import ServiceDefinition, ServiceRuntime
from services.collaboration import http, read_model
from services.collaboration.deadlines import StageDeadlines
from services.collaboration.handlers import TicketService, ticket_stream


@dataclass(frozen=True)
class CollaborationApp:
    tickets: TicketService
    deadlines: StageDeadlines


def bootstrap(runtime: ServiceRuntime) -> CollaborationApp:
    tickets = TicketService(
        runtime.pool, runtime.store, runtime.clock, runtime.directory, runtime.policy
    )
    known_customers.follow_customers(runtime.consumers)
    return CollaborationApp(tickets, StageDeadlines(tickets, runtime.metrics))


def audit_stream(record_id: str) -> str:
    """A ticket's stream; anything else names a stream itself (``department-<team>``)."""
    return ticket_stream(record_id) if record_id.startswith("tkt-") else record_id


COLLABORATION = ServiceDefinition(
    name="collaboration",
    title="Collaboration (table 3)",
    migrations=read_model.MIGRATIONS,
    routers=[http.router],
    bootstrap=bootstrap,
    timers=lambda app: app.deadlines.handlers(),
    audit_stream=audit_stream,
)
