"""JSON Schema of whole messages: the envelope of one event type with its payload inside.

An outside subscriber can validate a raw NATS message body against one of these files
without knowing anything else about the system.
"""

import re
from collections.abc import Iterable
from typing import Any, Final

from pydantic import Field, create_model
from pydantic.json_schema import models_json_schema

from contracts.base import IntegrationEvent
from contracts.envelope import Envelope

DRAFT_2020_12: Final = "https://json-schema.org/draft/2020-12/schema"

# A namespace only ever prefixes test-run subjects; production subjects have none.
_OPTIONAL_NAMESPACE: Final = r"(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.)?"
# Attributes that have a default in Python but that every producer always sends.
_ALWAYS_SENT: Final = ("specversion", "datacontenttype")

JsonSchema = dict[str, Any]


def envelope_model(event: type[IntegrationEvent]) -> type[Envelope]:
    """An ``Envelope`` whose ``data`` is typed as ``event``: used to generate schemas."""
    return create_model(
        f"{event.event_type()}Envelope",
        __base__=Envelope,
        __doc__=f"A {event.event_type()} event in its CloudEvents envelope.",
        data=(event, Field(description=f"The {event.event_type()} payload.")),
    )


def pin_envelope_attributes(schema: JsonSchema, event: type[IntegrationEvent]) -> None:
    """Narrow the generic envelope attributes to the values ``event`` always carries."""
    properties: dict[str, JsonSchema] = schema["properties"]
    subject = re.escape(event.subject())
    properties["type"] = {**properties["type"], "pattern": f"^{_OPTIONAL_NAMESPACE}{subject}$"}
    properties["source"] = {**properties["source"], "const": event.source()}
    properties["dataschema"] = {**properties["dataschema"], "const": event.dataschema()}
    properties["schemaversion"] = {**properties["schemaversion"], "const": event.schema_version}
    required: list[str] = schema.setdefault("required", [])
    required[:0] = [name for name in _ALWAYS_SENT if name not in required]


def message_schema(event: type[IntegrationEvent]) -> JsonSchema:
    """The stand-alone draft 2020-12 schema of a message carrying ``event``."""
    schema = envelope_model(event).model_json_schema(mode="validation")
    pin_envelope_attributes(schema, event)
    # $schema and $id first, so a reader of the file sees what it is at once.
    return {"$schema": DRAFT_2020_12, "$id": event.dataschema(), **schema}


def component_schemas(
    events: Iterable[type[IntegrationEvent]], ref_template: str
) -> tuple[dict[str, str], dict[str, JsonSchema]]:
    """Schemas of several messages sharing one table of definitions (for AsyncAPI).

    Returns the name of each event's envelope schema (by event type) and the table.
    """
    events = list(events)
    models = [(envelope_model(event), "validation") for event in events]
    refs, table = models_json_schema(models, ref_template=ref_template)  # type: ignore[arg-type]
    definitions: dict[str, JsonSchema] = table.get("$defs", {})
    names: dict[str, str] = {}
    for event, (model, mode) in zip(events, models, strict=True):
        name = refs[(model, mode)]["$ref"].rsplit("/", 1)[-1]  # type: ignore[index]
        pin_envelope_attributes(definitions[name], event)
        names[event.event_type()] = name
    return names, definitions
