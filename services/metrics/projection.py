"""From events to facts: what each published event changes in the metrics tables.

Pure functions, no I/O, no clock: ``project(event, meta)`` returns :class:`Change` values
that the live consumer upserts and a rebuild merges in memory. Whether a record is due,
late or compliant is read off the events themselves (``TasksOverdue``, ``TicketTimedOut``,
``on_time``, ``evidence_compliant``); no deadline rule of another service is restated here.
The one rule of this service's own is ``project_customers.follow_up_is_traced``.
"""

from __future__ import annotations

from contracts.base import IntegrationEvent
from services.metrics import project_customers, project_finance, project_tasks, project_tickets
from services.metrics.facts import Change, EventMeta, Projections

_PROJECTIONS: Projections = {
    **project_customers.PROJECTIONS,
    **project_tasks.PROJECTIONS,
    **project_tickets.PROJECTIONS,
    **project_finance.PROJECTIONS,
}

#: The event types that change a figure; the others are kept in the inbox only.
PROJECTED: frozenset[type[IntegrationEvent]] = frozenset(_PROJECTIONS)


def project(event: IntegrationEvent, meta: EventMeta) -> list[Change]:
    """The changes ``event`` makes to the facts (none for events no figure depends on)."""
    projection = _PROJECTIONS.get(type(event))
    return [] if projection is None else projection(event, meta)
