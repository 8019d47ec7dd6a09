"""The published language of the Sales Action Engine.

Event models, the CloudEvents envelope they travel in, the subjects and streams they use,
and the JSON Schema / AsyncAPI generated from them. Services never import each other;
they meet only here and on NATS.
"""

from contracts.base import IntegrationEvent
from contracts.collaboration import TicketStage, TicketTimedOut
from contracts.customers import DecisionState, DecisionStateChanged
from contracts.envelope import CLOUDEVENTS_CONTENT_TYPE, Envelope
from contracts.registry import (
    EVENT_TYPES,
    UnknownEventType,
    UnsupportedSchemaVersion,
    event_class,
    event_class_for_subject,
)
from contracts.tasks import (
    ConcessionExceeded,
    Evidence,
    EvidenceKind,
    TaskKind,
    TaskSubmitted,
)

__all__ = [
    "CLOUDEVENTS_CONTENT_TYPE",
    "EVENT_TYPES",
    "ConcessionExceeded",
    "DecisionState",
    "DecisionStateChanged",
    "Envelope",
    "Evidence",
    "EvidenceKind",
    "IntegrationEvent",
    "TaskKind",
    "TaskSubmitted",
    "TicketStage",
    "TicketTimedOut",
    "UnknownEventType",
    "UnsupportedSchemaVersion",
    "event_class",
    "event_class_for_subject",
]
