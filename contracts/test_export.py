import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import yaml
from jsonschema import Draft202012Validator

from contracts.base import IntegrationEvent
from contracts.envelope import Envelope
from contracts.export import ASYNCAPI_FILE_NAME, export_contracts, schema_file_name
from contracts.registry import EVENT_TYPES

EVENTS = sorted(EVENT_TYPES.values(), key=lambda cls: cls.event_type())
by_name = pytest.mark.parametrize("event", EVENTS, ids=lambda cls: cls.event_type())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("contracts") / "published"  # does not exist yet
    export_contracts(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def asyncapi(exported: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((exported / ASYNCAPI_FILE_NAME).read_text())
    return document


def validator_for(exported: Path, event: type[IntegrationEvent]) -> Draft202012Validator:
    schema = json.loads((exported / schema_file_name(event)).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def raw_message(event: IntegrationEvent, namespace: str = "") -> dict[str, Any]:
    envelope = Envelope.for_event(
        event,
        event_id=uuid4(),
        subject_id="stream-1",
        time=datetime.now(UTC),
        actor="system",
        stream_version=1,
        correlation_id=str(uuid4()),
        namespace=namespace,
    )
    message: dict[str, Any] = json.loads(envelope.to_json_bytes())
    return message


def error_paths(validator: Draft202012Validator, message: dict[str, Any]) -> list[str]:
    return [".".join(map(str, error.absolute_path)) for error in validator.iter_errors(message)]


def test_export_writes_one_schema_per_event_and_the_asyncapi_document(tmp_path: Path) -> None:
    written = export_contracts(tmp_path)
    expected = {f"{cls.subject()}.v{cls.schema_version}.schema.json" for cls in EVENTS}
    assert {path.name for path in written} == expected | {"asyncapi.yaml"}
    assert all(path.parent == tmp_path and path.is_file() for path in written)
    assert "sales.customers.decision_state_changed.v1.schema.json" in expected


def test_export_is_deterministic(tmp_path: Path) -> None:
    first = {path.name: path.read_bytes() for path in export_contracts(tmp_path / "a")}
    second = {path.name: path.read_bytes() for path in export_contracts(tmp_path / "b")}
    assert first == second


@by_name
def test_schema_is_draft_2020_12_identified_by_the_dataschema_urn(
    exported: Path, event: type[IntegrationEvent]
) -> None:
    schema = json.loads((exported / schema_file_name(event)).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == event.dataschema()


@by_name
@pytest.mark.parametrize("namespace", ["", "run-7f3a"])
def test_exported_schema_accepts_a_real_message(
    exported: Path, event: type[IntegrationEvent], namespace: str
) -> None:
    validator = validator_for(exported, event)
    for example in event.examples():
        assert error_paths(validator, raw_message(example, namespace)) == []


def test_exported_schema_rejects_a_float_price(exported: Path) -> None:
    message = raw_message(EVENT_TYPES["ConcessionExceeded"].examples()[0])
    message["data"]["deal_price"] = 86000.5
    assert error_paths(validator_for(exported, EVENT_TYPES["ConcessionExceeded"]), message) == [
        "data.deal_price"
    ]


def test_exported_schema_rejects_a_missing_field(exported: Path) -> None:
    event = EVENT_TYPES["TicketTimedOut"]
    message = raw_message(event.examples()[0])
    del message["data"]["due_at"]
    del message["correlationid"]
    assert sorted(error_paths(validator_for(exported, event), message)) == ["", "data"]


def test_exported_schema_rejects_a_state_outside_the_enum(exported: Path) -> None:
    event = EVENT_TYPES["DecisionStateChanged"]
    message = raw_message(event.examples()[0])
    message["data"]["to_state"] = "signed"
    assert error_paths(validator_for(exported, event), message) == ["data.to_state"]


def test_exported_schema_rejects_another_events_message(exported: Path) -> None:
    message = raw_message(EVENT_TYPES["TaskSubmitted"].examples()[0])
    errors = error_paths(validator_for(exported, EVENT_TYPES["ConcessionExceeded"]), message)
    assert {"type", "dataschema", "data"} <= set(errors)


def test_asyncapi_document_describes_the_nats_server(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["title"] == "Sales Action Engine events"
    (server,) = asyncapi["servers"].values()
    assert (server["protocol"], server["host"]) == ("nats", "localhost:4222")


def test_asyncapi_has_a_channel_and_message_for_every_registered_event(
    asyncapi: dict[str, Any],
) -> None:
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    assert addresses == {cls.subject() for cls in EVENTS}
    assert set(asyncapi["components"]["messages"]) == set(EVENT_TYPES)


def test_asyncapi_messages_document_the_nats_msg_id_header(asyncapi: dict[str, Any]) -> None:
    for message in asyncapi["components"]["messages"].values():
        headers = resolve(asyncapi, message["headers"]["$ref"])
        assert "Nats-Msg-Id" in headers["required"]
        assert message["contentType"] == "application/cloudevents+json"


def test_every_reference_in_the_asyncapi_document_resolves(asyncapi: dict[str, Any]) -> None:
    for reference in references(asyncapi):
        assert resolve(asyncapi, reference) is not None, reference


def test_asyncapi_examples_validate_against_their_payload_schema(
    asyncapi: dict[str, Any],
) -> None:
    for message in asyncapi["components"]["messages"].values():
        root = {**message["payload"], "components": asyncapi["components"]}
        validator = Draft202012Validator(root)
        assert message["examples"], message["name"]
        for example in message["examples"]:
            assert list(validator.iter_errors(example["payload"])) == []


def references(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve(document: dict[str, Any], reference: str) -> Any:
    node: Any = document
    for token in reference.removeprefix("#/").split("/"):
        node = node.get(token.replace("~1", "/").replace("~0", "~"))
    return node
