"""The catalogue of published events: one entry per event type, looked up by name or subject.

The list is written out rather than collected by import side effects, so that a reader
sees the whole published language in one place and a forgotten import cannot hide an event.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from contracts.base import IntegrationEvent
from contracts.collaboration import (
    DepartmentQualityAlert,
    DocumentsCompleted,
    InfoRequested,
    InfoSupplied,
    ReceiptConfirmed,
    StockingStarted,
    TicketAnswered,
    TicketDispatched,
    TicketEscalated,
    TicketRated,
    TicketShipped,
    TicketSubmitted,
    TicketTimedOut,
)
from contracts.customer_actions import (
    CustomerWentStale,
    NegotiationJoinConfirmed,
    NegotiationJoinOverdue,
    NegotiationJoinRequested,
    NextActionCommitted,
    NextActionCompleted,
    NextActionOverdue,
    NextActionsNotUpdated,
)
from contracts.customer_reports import (
    ProgressReported,
    SupportAnswered,
    SupportAnswerOverdue,
    TargetAllocated,
)
from contracts.customers import (
    CustomerDetailsUpdated,
    CustomerReassigned,
    CustomerRegistered,
    CustomerTierChanged,
    DecisionStateChanged,
    FollowUpLogged,
)
from contracts.finance import InvoiceIssued, OrderPlaced, PaymentReceived
from contracts.notifier import NotificationDelivered, NotificationFailed
from contracts.subjects import parse_subject
from contracts.tasks import (
    ConcessionApproved,
    ConcessionExceeded,
    ConcessionRejected,
    DailyTodoCardIssued,
    TaskPlanned,
    TasksOverdue,
    TaskSubmitted,
)

_PUBLISHED: Final[tuple[type[IntegrationEvent], ...]] = (
    CustomerRegistered,
    CustomerTierChanged,
    CustomerReassigned,
    CustomerDetailsUpdated,
    FollowUpLogged,
    DecisionStateChanged,
    NegotiationJoinRequested,
    NegotiationJoinConfirmed,
    NegotiationJoinOverdue,
    NextActionCommitted,
    NextActionCompleted,
    NextActionOverdue,
    NextActionsNotUpdated,
    CustomerWentStale,
    ProgressReported,
    SupportAnswered,
    SupportAnswerOverdue,
    TargetAllocated,
    TaskPlanned,
    TaskSubmitted,
    ConcessionExceeded,
    ConcessionApproved,
    ConcessionRejected,
    DailyTodoCardIssued,
    TasksOverdue,
    TicketSubmitted,
    TicketDispatched,
    TicketAnswered,
    InfoRequested,
    InfoSupplied,
    DocumentsCompleted,
    StockingStarted,
    TicketShipped,
    ReceiptConfirmed,
    TicketRated,
    TicketTimedOut,
    TicketEscalated,
    DepartmentQualityAlert,
    NotificationDelivered,
    NotificationFailed,
    InvoiceIssued,
    PaymentReceived,
    OrderPlaced,
)


class UnknownEventType(KeyError):
    """No published event has this type name or subject."""

    def __init__(self, event_type: str) -> None:
        super().__init__(event_type)
        self.event_type = event_type

    def __str__(self) -> str:  # KeyError's own __str__ would only repr the key
        return f"unknown event type {self.event_type!r}; known: {sorted(EVENT_TYPES)}"


class UnsupportedSchemaVersion(ValueError):
    """A message carries a schema version this code does not know how to read."""


def _index(events: tuple[type[IntegrationEvent], ...]) -> dict[str, type[IntegrationEvent]]:
    index: dict[str, type[IntegrationEvent]] = {}
    for cls in events:
        # Two classes with one name would share a subject: refuse at import, not in prod.
        if cls.event_type() in index:
            raise RuntimeError(f"event type {cls.event_type()!r} is registered twice")
        index[cls.event_type()] = cls
    return index


#: Every published event class, keyed by its type name ("DecisionStateChanged").
EVENT_TYPES: Final[Mapping[str, type[IntegrationEvent]]] = MappingProxyType(_index(_PUBLISHED))

_BY_SUBJECT: Final = {(cls.service, cls.event_name()): cls for cls in _PUBLISHED}


def event_class(event_type: str) -> type[IntegrationEvent]:
    """The class of an event type name, e.g. ``"TaskSubmitted"``."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def event_class_for_subject(subject: str) -> type[IntegrationEvent]:
    """The class published on a subject, namespaced or not.

    >>> event_class_for_subject("t1.sales.tasks.concession_exceeded").__name__
    'ConcessionExceeded'
    """
    try:
        parsed = parse_subject(subject)
    except ValueError:
        raise UnknownEventType(subject) from None
    try:
        return _BY_SUBJECT[(parsed.service, parsed.event)]
    except KeyError:
        raise UnknownEventType(subject) from None
