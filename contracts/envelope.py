"""The envelope every event travels in: a CloudEvents 1.0 event in structured JSON mode.

Attribute names are CloudEvents' own, so an outside system can read a message with any
CloudEvents SDK; our extra attributes follow the extension naming rule (lowercase letters
and digits only).
"""

import builtins
from datetime import datetime
from typing import Any, Final, Literal, Self, TypeVar
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field

from contracts.base import IntegrationEvent
from contracts.fields import TRACEPARENT_PATTERN, UUID_PATTERN, UtcDatetime
from contracts.registry import UnsupportedSchemaVersion, event_class_for_subject

E = TypeVar("E", bound=IntegrationEvent)

#: Media type of a whole envelope on the wire (CloudEvents JSON format).
CLOUDEVENTS_CONTENT_TYPE: Final = "application/cloudevents+json"


class Envelope(BaseModel):
    """One published event: CloudEvents attributes, our extensions, and the payload."""

    # Unknown attributes (new extensions) are ignored, like unknown payload fields.
    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"] = Field(
        default="1.0", description="CloudEvents specification version.", examples=["1.0"]
    )
    id: str = Field(
        pattern=UUID_PATTERN,
        description="Event id (lowercase UUID); also the Nats-Msg-Id, so JetStream dedups.",
        examples=["0b5e6c1e-2f0a-4a59-9a43-6f1b2a7d9c10"],
    )
    source: str = Field(
        min_length=1,
        description="URI reference of the publishing service.",
        examples=["/salesops/customers"],
    )
    type: str = Field(
        min_length=1,
        description=(
            "The NATS subject the event is published on, which names its type: "
            "sales.<service>.<event>, prefixed by a namespace only in isolated test runs."
        ),
        examples=["sales.customers.decision_state_changed"],
    )
    subject: str = Field(
        min_length=1,
        description="Id of the stream (aggregate) the event belongs to, e.g. the customer id.",
        examples=["cus-0042"],
    )
    time: UtcDatetime = Field(
        description="When the event was recorded (RFC 3339, UTC).",
        examples=["2024-05-06T01:30:00.123456Z"],
    )
    datacontenttype: Literal["application/json"] = Field(
        default="application/json",
        description="Media type of data.",
        examples=["application/json"],
    )
    dataschema: str = Field(
        min_length=1,
        description="URN of the JSON Schema of this envelope and its data, one per version.",
        examples=["urn:salesops:schema:sales.customers.decision_state_changed:v1"],
    )
    schemaversion: int = Field(
        ge=1, description="Version of the data's shape (extension).", examples=[1]
    )
    traceparent: str | None = Field(
        default=None,
        pattern=TRACEPARENT_PATTERN,
        description="W3C trace context of the command that caused the event (extension).",
        examples=["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    )
    correlationid: str = Field(
        min_length=1,
        description="Id shared by every event of one business flow (extension).",
        examples=["c0a8f4d2-6b1e-4c1c-9a2e-2f4b8f7a1d33"],
    )
    causationid: str | None = Field(
        default=None,
        description="Id of the event or command that directly caused this one (extension).",
        examples=["7d8f9a10-1b2c-4d3e-8f4a-5b6c7d8e9f00"],
    )
    actor: str = Field(
        min_length=1,
        description="Person id of who caused the event, or 'system' for timers (extension).",
        examples=["p-rep-li-na", "system"],
    )
    streamversion: int = Field(
        ge=1,
        description="Position of the event in its stream, from 1 (extension).",
        examples=[3],
    )
    data: dict[str, Any] = Field(
        description="The event payload, a JSON object described by dataschema.",
    )

    @classmethod
    def for_event(
        cls,
        event: IntegrationEvent,
        *,
        event_id: UUID | str,
        subject_id: str,
        time: datetime,
        actor: str,
        stream_version: int,
        correlation_id: str,
        causation_id: str | None = None,
        traceparent: str | None = None,
        namespace: str = "",
    ) -> Self:
        """Wrap an event for publication on ``event.subject(namespace)``."""
        return cls(
            id=str(event_id).lower(),
            source=event.source(),
            type=event.subject(namespace),
            subject=subject_id,
            time=time,
            dataschema=event.dataschema(),
            schemaversion=event.schema_version,
            traceparent=traceparent,
            correlationid=correlation_id,
            causationid=causation_id,
            actor=actor,
            streamversion=stream_version,
            # JSON mode: the payload holds exactly what goes on the wire (decimal strings).
            data=event.model_dump(mode="json"),
        )

    def to_json_bytes(self) -> bytes:
        """Compact JSON for a NATS message body; absent optional attributes are left out."""
        # CloudEvents: an optional attribute is absent, not null. Only top-level attributes
        # are dropped; a null inside data (e.g. from_state) is part of the fact.
        absent = {name for name in type(self).model_fields if getattr(self, name) is None}
        return self.model_dump_json(exclude=absent).encode()

    def nats_headers(self) -> dict[str, str]:
        """Headers for the NATS message carrying this envelope."""
        headers = {
            "Nats-Msg-Id": self.id,  # JetStream drops a republished duplicate
            "content-type": CLOUDEVENTS_CONTENT_TYPE,
            "ce-type": self.type,  # lets a router filter without parsing the body
        }
        if self.traceparent is not None:
            headers["traceparent"] = self.traceparent
        return headers

    def event(self) -> IntegrationEvent:
        """The payload parsed into its registered class (found by ``type``)."""
        cls = event_class_for_subject(self.type)
        if self.schemaversion != cls.schema_version:
            raise UnsupportedSchemaVersion(
                f"{self.type} arrived as schema version {self.schemaversion}; "
                f"this code reads version {cls.schema_version}"
            )
        return cls.model_validate(self.data)

    def event_as(self, expected: builtins.type[E]) -> E:
        """The payload parsed as ``expected``; a clear error if it is another event."""
        # builtins.type: inside this class body the name ``type`` is the CloudEvents field.
        event = self.event()
        if not isinstance(event, expected):
            raise TypeError(f"{self.type} carries {event.event_type()}, not {expected.__name__}")
        return event


def envelope_json(
    *,
    id: str,
    source: str,
    type: str,
    subject: str,
    time: datetime,
    dataschema: str,
    schemaversion: int,
    correlationid: str,
    actor: str,
    streamversion: int,
    data: dict[str, Any],
    traceparent: str | None = None,
    causationid: str | None = None,
) -> bytes:
    """Exactly :meth:`Envelope.to_json_bytes` for already-validated parts, without pydantic.

    The relay serialises every stored event once more on its way to NATS; this keeps that
    cheap. ``time`` must be UTC and ``data`` JSON-ready (as stored). A test holds the two
    byte for byte.
    """
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": type,
        "subject": subject,
        "time": time,
        "datacontenttype": "application/json",
        "dataschema": dataschema,
        "schemaversion": schemaversion,
    }
    if traceparent is not None:
        body["traceparent"] = traceparent
    body["correlationid"] = correlationid
    if causationid is not None:
        body["causationid"] = causationid
    body["actor"] = actor
    body["streamversion"] = streamversion
    body["data"] = data
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)
