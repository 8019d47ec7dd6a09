"""The compatibility checker on hand-made schema pairs: one pair per rule, both ways.

Each ``published`` schema is shaped like the generated ones (an envelope whose ``data``
is a ``$ref`` into ``$defs``, nullable fields as ``anyOf``), so the rules are exercised
through the same indirections the real documents use.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from contracts.compatibility import Change, compare_schemas

Schema = dict[str, Any]


def published() -> Schema:
    """A message schema: envelope attributes, then ``data`` -> ``$defs/Sample``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:salesops:schema:sales.customers.sample:v1",
        "$defs": {
            "Stage": {"enum": ["tech", "logistics"], "title": "Stage", "type": "string"},
            "Line": {
                "properties": {
                    "sku": {"type": "string", "minLength": 1, "maxLength": 64},
                    "quantity": {"type": "integer", "minimum": 1},
                },
                "required": ["sku", "quantity"],
                "title": "Line",
                "type": "object",
            },
            "Sample": {
                "description": "A sample event.",
                "properties": {
                    "sample_id": {"type": "string", "description": "Id.", "maxLength": 128},
                    "stage": {"$ref": "#/$defs/Stage", "description": "Stage."},
                    "amount": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    "stars": {"type": "integer", "minimum": 1, "maximum": 5},
                    "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}, "minItems": 1},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "ratio": {"type": "number", "multipleOf": 0.01},
                    "at": {"type": "string", "format": "date-time"},
                },
                "required": ["sample_id", "stage", "amount", "stars", "lines", "at"],
                "title": "Sample",
                "type": "object",
            },
        },
        "properties": {
            "specversion": {"const": "1.0", "type": "string"},
            "id": {"type": "string", "pattern": "^[0-9a-f-]{36}$"},
            "actor": {"type": "string", "minLength": 1, "description": "Who."},
            "traceparent": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "schemaversion": {"type": "integer", "const": 1},
            "data": {"$ref": "#/$defs/Sample", "description": "The payload."},
        },
        "required": ["specversion", "id", "actor", "schemaversion", "data"],
        "title": "SampleEnvelope",
        "type": "object",
    }


def changed(edit: Any) -> list[Change]:
    """The changes found when ``edit`` (a function of a deep copy) makes the current schema."""
    current = copy.deepcopy(published())
    edit(current)
    return compare_schemas(published(), current)


def sample(schema: Schema) -> Schema:
    definition: Schema = schema["$defs"]["Sample"]
    return definition


def field(schema: Schema, name: str) -> Schema:
    found: Schema = sample(schema)["properties"][name]
    return found


def test_an_unchanged_schema_is_compatible() -> None:
    assert compare_schemas(published(), published()) == []


# --- breaking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda s: sample(s)["properties"].pop("note"),
            [Change("data.note", "field removed")],
            id="optional-field-removed",
        ),
        pytest.param(
            lambda s: (sample(s)["properties"].pop("stars"), sample(s)["required"].remove("stars")),
            [Change("data.stars", "field removed")],
            id="required-field-removed",
        ),
        pytest.param(
            lambda s: s["$defs"]["Line"]["properties"].pop("sku"),
            [Change("data.lines[].sku", "field removed")],
            id="field-removed-in-a-nested-model",
        ),
        pytest.param(
            lambda s: field(s, "stars").update(type="string"),
            [Change("data.stars", "type changed from integer to string")],
            id="type-changed",
        ),
        pytest.param(
            lambda s: sample(s)["properties"].update(note={"type": "string"}),
            [Change("data.note", "type changed from null | string to string")],
            id="nullable-narrowed-to-non-null",
        ),
        pytest.param(
            # A consumer that reads the id as a string would now meet null.
            lambda s: sample(s)["properties"].update(
                sample_id={"anyOf": [{"type": "string", "maxLength": 128}, {"type": "null"}]}
            ),
            [Change("data.sample_id", "type changed from string to null | string")],
            id="type-widened-to-nullable",
        ),
        pytest.param(
            lambda s: field(s, "ratio").update(type="integer"),
            [Change("data.ratio", "type changed from number to integer")],
            id="number-narrowed-to-integer",
        ),
        pytest.param(
            lambda s: (
                sample(s)["properties"].update(region={"type": "string"}),
                sample(s)["required"].append("region"),
            ),
            [Change("data.region", "new required field: messages already published lack it")],
            id="new-required-field",
        ),
        pytest.param(
            lambda s: sample(s)["required"].append("note"),
            [Change("data.note", "field made required: messages already published may lack it")],
            id="optional-field-made-required",
        ),
        pytest.param(
            lambda s: sample(s)["required"].remove("stars"),
            [
                Change(
                    "data.stars",
                    "field no longer required: a consumer reading it may find it missing",
                )
            ],
            id="required-field-made-optional",
        ),
        pytest.param(
            lambda s: s["$defs"]["Stage"].update(enum=["tech"]),
            [Change("data.stage", 'enum value(s) removed: "logistics"')],
            id="enum-value-removed",
        ),
        pytest.param(
            lambda s: field(s, "amount").update(enum=["1.00", "2.00"]),
            [Change("data.amount", 'now limited to "1.00", "2.00"')],
            id="free-value-limited-to-an-enum",
        ),
        pytest.param(
            lambda s: s["properties"]["schemaversion"].update(const=2),
            [Change("schemaversion", "enum value(s) removed: 1")],
            id="const-changed",
        ),
        pytest.param(
            lambda s: field(s, "amount").update(pattern=r"^\d+\.\d{2}$"),
            [
                Change(
                    "data.amount",
                    "pattern changed from '^\\\\d+(\\\\.\\\\d+)?$' to '^\\\\d+\\\\.\\\\d{2}$'",
                )
            ],
            id="pattern-changed",
        ),
        pytest.param(
            lambda s: field(s, "sample_id").update(pattern="^s-"),
            [Change("data.sample_id", "pattern added to '^s-'")],
            id="pattern-added",
        ),
        pytest.param(
            lambda s: field(s, "sample_id").update(format="uuid"),
            [Change("data.sample_id", "format added to 'uuid'")],
            id="format-added",
        ),
        pytest.param(
            lambda s: field(s, "at").update(format="date"),
            [Change("data.at", "format changed from 'date-time' to 'date'")],
            id="format-changed",
        ),
        pytest.param(
            lambda s: field(s, "sample_id").update(maxLength=64),
            [Change("data.sample_id", "maxLength tightened from 128 to 64")],
            id="max-length-lowered",
        ),
        pytest.param(
            lambda s: s["$defs"]["Line"]["properties"]["sku"].update(minLength=3),
            [Change("data.lines[].sku", "minLength tightened from 1 to 3")],
            id="min-length-raised",
        ),
        pytest.param(
            lambda s: field(s, "stars").update(maximum=4),
            [Change("data.stars", "maximum tightened from 5 to 4")],
            id="maximum-lowered",
        ),
        pytest.param(
            lambda s: field(s, "ratio").update(exclusiveMinimum=0),
            [Change("data.ratio", "exclusiveMinimum tightened to 0")],
            id="bound-added",
        ),
        pytest.param(
            lambda s: field(s, "lines").update(maxItems=10),
            [Change("data.lines", "maxItems tightened to 10")],
            id="array-limit-added",
        ),
        pytest.param(
            lambda s: field(s, "ratio").update(multipleOf=0.05),
            [Change("data.ratio", "multipleOf tightened from 0.01 to 0.05")],
            id="multiple-of-stricter",
        ),
        pytest.param(
            lambda s: field(s, "lines").update(uniqueItems=True),
            [Change("data.lines", "uniqueItems added")],
            id="unique-items-added",
        ),
        pytest.param(
            lambda s: sample(s).update(additionalProperties=False),
            [Change("data", "closed to fields it does not list (additionalProperties: false)")],
            id="object-closed",
        ),
        pytest.param(
            lambda s: field(s, "labels").update(additionalProperties={"type": "integer"}),
            [Change("data.labels.*", "type changed from string to integer")],
            id="map-value-type-changed",
        ),
        pytest.param(
            lambda s: s["$defs"]["Line"]["properties"]["quantity"].update(type="number"),
            [Change("data.lines[].quantity", "type changed from integer to number")],
            id="array-item-field-type-changed",
        ),
        pytest.param(
            lambda s: s["properties"].pop("actor"),
            [Change("actor", "field removed")],
            id="envelope-attribute-removed",
        ),
        pytest.param(
            lambda s: s["properties"]["traceparent"].update(anyOf=[{"type": "string"}]),
            [Change("traceparent", "type changed from null | string to string")],
            id="envelope-attribute-narrowed",
        ),
        pytest.param(
            lambda s: s["properties"]["id"].update(pattern="^[0-9a-f]{32}$"),
            [Change("id", "pattern changed from '^[0-9a-f-]{36}$' to '^[0-9a-f]{32}$'")],
            id="envelope-pattern-changed",
        ),
        pytest.param(
            lambda s: s.update({"$id": "urn:salesops:schema:sales.customers.sample:v1-beta"}),
            [
                Change(
                    "",
                    "$id changed from urn:salesops:schema:sales.customers.sample:v1 "
                    "to urn:salesops:schema:sales.customers.sample:v1-beta",
                )
            ],
            id="id-changed",
        ),
        pytest.param(
            lambda s: field(s, "labels").update(propertyNames={"pattern": "^[a-z]+$"}),
            [
                Change(
                    "data.labels",
                    "propertyNames changed; this checker does not model it, so it cannot "
                    "prove the change harmless",
                )
            ],
            id="unmodelled-keyword-changed",
        ),
        pytest.param(
            lambda s: field(s, "stage").update({"$ref": "#/$defs/Missing"}),
            [Change("data.stage", "a $ref cannot be resolved (#/$defs/Missing)")],
            id="dangling-reference",
        ),
    ],
)
def test_a_change_consumers_notice_is_reported(edit: Any, expected: list[Change]) -> None:
    assert changed(edit) == expected


def test_several_changes_are_all_reported_in_path_order() -> None:
    def edit(s: Schema) -> None:
        s["properties"].pop("actor")
        s["$defs"]["Stage"]["enum"] = ["tech"]
        field(s, "stars")["type"] = "string"

    assert [change.path for change in changed(edit)] == ["actor", "data.stage", "data.stars"]


def test_a_shared_definition_is_reported_at_every_place_it_is_used() -> None:
    def edit(s: Schema) -> None:
        sample(s)["properties"]["previous_stage"] = {"$ref": "#/$defs/Stage"}

    def narrow(s: Schema) -> None:
        edit(s)
        s["$defs"]["Stage"]["enum"] = ["tech"]

    before = copy.deepcopy(published())
    edit(before)
    after = copy.deepcopy(published())
    narrow(after)
    assert [change.path for change in compare_schemas(before, after)] == [
        "data.previous_stage",
        "data.stage",
    ]


def test_a_removed_alternative_of_a_union_of_models_is_reported() -> None:
    def union(*models: str) -> dict[str, Any]:
        return {"anyOf": [{"$ref": f"#/$defs/{model}"} for model in models]}

    before, after = published(), published()
    for schema in (before, after):
        schema["$defs"]["Other"] = {
            "properties": {"code": {"type": "string"}},
            "required": ["code"],
            "title": "Other",
            "type": "object",
        }
    before["$defs"]["Sample"]["properties"]["item"] = union("Line", "Other")
    after["$defs"]["Sample"]["properties"]["item"] = union("Line")
    assert compare_schemas(before, after) == [
        Change(
            "data.item",
            "an alternative of the union (object) was removed or changed incompatibly: Other",
        )
    ]
    # The other way round, an alternative is added: a consumer of `Line` is not affected.
    assert compare_schemas(after, before) == []


def test_a_recursive_model_is_compared_without_looping() -> None:
    def tree(child_type: str) -> Schema:
        schema = published()
        schema["$defs"]["Node"] = {
            "properties": {
                "name": {"type": child_type},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "type": "object",
        }
        schema["$defs"]["Sample"]["properties"]["tree"] = {"$ref": "#/$defs/Node"}
        return schema

    assert compare_schemas(tree("string"), tree("string")) == []
    assert compare_schemas(tree("string"), tree("integer")) == [
        Change("data.tree.name", "type changed from string to integer")
    ]


# --- compatible -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            lambda s: sample(s)["properties"].update(region={"type": "string"}),
            id="optional-field-added",
        ),
        pytest.param(
            lambda s: s["properties"].update(tenant={"type": "string"}),
            id="optional-envelope-attribute-added",
        ),
        pytest.param(
            lambda s: s["$defs"]["Stage"].update(enum=["tech", "logistics", "sales"]),
            id="enum-value-added",
        ),
        pytest.param(
            lambda s: (
                field(s, "stage").update(description="The stage, reworded."),
                sample(s).update(description="Reworded.", title="Renamed"),
                field(s, "note").update(default="", examples=["a note"]),
            ),
            id="description-title-default-examples-changed",
        ),
        pytest.param(lambda s: field(s, "sample_id").update(maxLength=256), id="max-raised"),
        pytest.param(lambda s: field(s, "stars").update(minimum=0), id="min-lowered"),
        pytest.param(lambda s: field(s, "stars").pop("maximum"), id="bound-removed"),
        pytest.param(lambda s: field(s, "amount").pop("pattern"), id="pattern-removed"),
        pytest.param(lambda s: field(s, "at").pop("format"), id="format-removed"),
        pytest.param(
            # Every multiple of 0.01 is a multiple of 0.005.
            lambda s: field(s, "ratio").update(multipleOf=0.005),
            id="multiple-of-looser",
        ),
        pytest.param(lambda s: field(s, "lines").pop("minItems"), id="min-items-removed"),
        pytest.param(
            # The same schema written inline instead of through a definition.
            lambda s: sample(s)["properties"].update(
                stage={"enum": ["tech", "logistics"], "type": "string", "description": "Stage."}
            ),
            id="definition-inlined",
        ),
        pytest.param(
            lambda s: s["properties"].update(
                actor={"allOf": [{"type": "string", "minLength": 1}], "description": "Who."}
            ),
            id="wrapped-in-a-single-allof",
        ),
    ],
)
def test_a_change_consumers_cannot_notice_passes(edit: Any) -> None:
    assert changed(edit) == []


def test_a_change_is_printed_with_its_path() -> None:
    assert str(Change("data.note", "field removed")) == "data.note: field removed"
    assert str(Change("", "$id changed")) == "(the message): $id changed"
