"""The base of every integration event: what goes on the wire, not what a service stores.

A service's domain events stay inside the service; a handler translates them into these
classes for publication. A breaking change to one of them is a new ``schema_version``
(and a new class), never an edit in place.
"""

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, JsonValue

from contracts.subjects import schema_urn, snake_case, source_for, subject_for


class IntegrationEvent(BaseModel):
    """A fact one service publishes for the others and for outside subscribers."""

    # Tolerant reader: a consumer built against v1 keeps working when the producer adds
    # fields. Frozen: a published fact does not change.
    model_config = ConfigDict(extra="ignore", frozen=True)

    #: The publishing service, the second token of the subject.
    service: ClassVar[str]
    #: Version of the payload's shape; bumped only by a breaking change.
    schema_version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        """The event's name, e.g. ``"DecisionStateChanged"``."""
        return cls.__name__

    @classmethod
    def event_name(cls) -> str:
        """The event's subject token, e.g. ``"decision_state_changed"``."""
        return snake_case(cls.event_type())

    @classmethod
    def subject(cls, namespace: str = "") -> str:
        """The NATS subject this event is published on."""
        return subject_for(cls.service, cls.event_type(), namespace)

    @classmethod
    def dataschema(cls) -> str:
        """The URN naming this event's JSON Schema (the envelope's ``dataschema``)."""
        return schema_urn(cls.service, cls.event_type(), cls.schema_version)

    @classmethod
    def source(cls) -> str:
        """The CloudEvents ``source`` of this event, e.g. ``/salesops/customers``."""
        return source_for(cls.service)

    @classmethod
    def examples(cls) -> list[Self]:
        """The model-level JSON Schema examples, parsed: documentation that is checked."""
        extra = cls.model_config.get("json_schema_extra")
        raw: Any = extra.get("examples", []) if isinstance(extra, dict) else []
        return [cls.model_validate(example) for example in raw]


def example_config(**fields: JsonValue) -> ConfigDict:
    """A model config whose JSON Schema carries one example event (checked by the tests)."""
    return ConfigDict(json_schema_extra={"examples": [fields]})
