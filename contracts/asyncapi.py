"""The AsyncAPI 3.0.0 description of everything the system publishes on NATS."""

import inspect
import json
from datetime import UTC, datetime
from typing import Any, Final
from uuid import NAMESPACE_URL, uuid5

from contracts.base import IntegrationEvent
from contracts.envelope import CLOUDEVENTS_CONTENT_TYPE, Envelope
from contracts.fields import TRACEPARENT_PATTERN, UUID_PATTERN
from contracts.registry import EVENT_TYPES
from contracts.schemas import JsonSchema, component_schemas
from contracts.subjects import stream_name_for

TITLE: Final = "Sales Action Engine events"
_SCHEMAS: Final = "#/components/schemas/"
_HEADERS: Final = "NatsMessageHeaders"

_DESCRIPTION: Final = """\
Domain events of the Sales Action Engine on NATS JetStream, one subject per event type:
`sales.<service>.<event>`. Each message body is a CloudEvents 1.0 event in structured
JSON mode; `data` holds the payload. Money and percentages are decimal strings.
Consumers must ignore unknown fields; a breaking change is a new `schemaversion` with a
new `dataschema`, never an edit in place. Each service's events are kept in the JetStream
stream `SALES_<SERVICE>`; `Nats-Msg-Id` equals the event id, so redelivery can be deduped.
"""

_HEADERS_SCHEMA: Final[JsonSchema] = {
    "type": "object",
    "description": "NATS headers of every event message.",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "pattern": UUID_PATTERN,
            "description": "The event id (CloudEvents id); JetStream drops duplicates by it.",
        },
        "content-type": {
            "const": CLOUDEVENTS_CONTENT_TYPE,
            "description": "The body is a CloudEvents event in structured JSON mode.",
        },
        "ce-type": {
            "type": "string",
            "description": "Copy of the CloudEvents type (the subject), for routing.",
        },
        "traceparent": {
            "type": "string",
            "pattern": TRACEPARENT_PATTERN,
            "description": "W3C trace context, when the event was caused inside a trace.",
        },
    },
    "required": ["Nats-Msg-Id", "content-type"],
}


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI document, as a plain dict ready for YAML or JSON."""
    events = sorted(EVENT_TYPES.values(), key=lambda cls: cls.subject())
    names, schemas = component_schemas(events, ref_template=_SCHEMAS + "{model}")
    return {
        "asyncapi": "3.0.0",
        "info": {"title": TITLE, "version": "1.0.0", "description": _DESCRIPTION},
        "defaultContentType": CLOUDEVENTS_CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "NATS JetStream started by `salesops up` or docker compose.",
            }
        },
        "channels": {event.event_name(): _channel(event) for event in events},
        "operations": {f"publish_{event.event_name()}": _operation(event) for event in events},
        "components": {
            "schemas": {**schemas, _HEADERS: _HEADERS_SCHEMA},
            "messages": {
                event.event_type(): _message(event, names[event.event_type()]) for event in events
            },
        },
    }


def _channel(event: type[IntegrationEvent]) -> dict[str, Any]:
    return {
        "address": event.subject(),
        "title": event.event_type(),
        "description": (
            f"{_summary(event)} Published by the {event.service} service; "
            f"kept in the JetStream stream {stream_name_for(event.service)}."
        ),
        "messages": {event.event_type(): {"$ref": f"#/components/messages/{event.event_type()}"}},
    }


def _operation(event: type[IntegrationEvent]) -> dict[str, Any]:
    channel = f"#/channels/{event.event_name()}"
    return {
        "action": "send",
        "channel": {"$ref": channel},
        "summary": f"The {event.service} service publishes {event.event_type()}.",
        "messages": [{"$ref": f"{channel}/messages/{event.event_type()}"}],
    }


def _message(event: type[IntegrationEvent], payload_schema: str) -> dict[str, Any]:
    return {
        "name": event.event_type(),
        "title": event.event_type(),
        "summary": _summary(event),
        "description": inspect.getdoc(event) or "",
        "contentType": CLOUDEVENTS_CONTENT_TYPE,
        "headers": {"$ref": _SCHEMAS + _HEADERS},
        "payload": {"$ref": _SCHEMAS + payload_schema},
        "correlationId": {
            "description": "Shared by every event of one business flow.",
            "location": "$message.payload#/correlationid",
        },
        "examples": [_example(event, sample) for sample in event.examples()],
    }


def _example(event: type[IntegrationEvent], sample: IntegrationEvent) -> dict[str, Any]:
    # Fixed ids and times: the generated document must not change between runs.
    event_id = uuid5(NAMESPACE_URL, event.dataschema())
    envelope = Envelope.for_event(
        sample,
        event_id=event_id,
        # The first field of every event is the id of the stream it belongs to.
        subject_id=str(next(iter(sample.model_dump().values()))),
        time=datetime(2024, 5, 6, 1, 30, tzinfo=UTC),
        actor="p-rep-li-na",
        stream_version=3,
        correlation_id=str(uuid5(NAMESPACE_URL, f"correlation:{event_id}")),
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    return {
        "name": f"{event.event_name()}_example",
        "summary": f"A {event.event_type()} message as it appears on NATS.",
        "headers": envelope.nats_headers(),
        "payload": json.loads(envelope.to_json_bytes()),
    }


def _summary(event: type[IntegrationEvent]) -> str:
    return (inspect.getdoc(event) or event.event_type()).splitlines()[0]
