import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts.base import IntegrationEvent
from contracts.customers import DecisionState, DecisionStateChanged
from contracts.envelope import Envelope
from contracts.registry import UnsupportedSchemaVersion
from contracts.tasks import ConcessionExceeded, TaskSubmitted

EVENT_ID = UUID("0b5e6c1e-2f0a-4a59-9a43-6f1b2a7d9c10")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def concession(**changes: Any) -> ConcessionExceeded:
    fields: dict[str, Any] = {
        "task_id": "task-7781",
        "customer_id": "cus-0042",
        "rep_id": "p-rep-li-na",
        "target_price": Decimal("100000.10"),
        "deal_price": Decimal("87999.99"),
        "concession_pct": Decimal("12.0000001"),
        "threshold_pct": Decimal("12"),
    }
    return ConcessionExceeded(**{**fields, **changes})


def wrap(event: IntegrationEvent, **changes: Any) -> Envelope:
    arguments: dict[str, Any] = {
        "event_id": EVENT_ID,
        "subject_id": "task-7781",
        "time": datetime(2024, 5, 6, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        "actor": "p-rep-li-na",
        "stream_version": 3,
        "correlation_id": "corr-1",
    }
    return Envelope.for_event(event, **{**arguments, **changes})


def wire(envelope: Envelope) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(envelope.to_json_bytes())
    return decoded


def test_round_trip_keeps_decimals_exact() -> None:
    sent = concession()
    received = Envelope.model_validate_json(wrap(sent).to_json_bytes()).event_as(ConcessionExceeded)
    assert received == sent
    assert received.concession_pct == Decimal("12.0000001")
    assert received.concession_pct > received.threshold_pct


def test_money_travels_as_decimal_strings_in_plain_notation() -> None:
    data = wire(wrap(concession(target_price=Decimal("1E+5"))))["data"]
    assert data["target_price"] == "100000"
    assert data["deal_price"] == "87999.99"


@pytest.mark.parametrize("price", [87999.99, True, "8.8e4", "NaN", "-1"])
def test_a_price_that_is_not_an_exact_non_negative_decimal_is_refused(price: object) -> None:
    with pytest.raises(ValidationError, match="deal_price"):
        concession(deal_price=price)


def test_a_float_price_arriving_over_the_wire_is_refused() -> None:
    message = wire(wrap(concession()))
    message["data"]["deal_price"] = 87999.99
    with pytest.raises(ValidationError, match="never as floats"):
        Envelope.model_validate_json(json.dumps(message)).event()


def test_consumers_ignore_unknown_fields_in_data_and_unknown_attributes() -> None:
    message = wire(wrap(concession()))
    message["data"]["discount_reason"] = "end of quarter"  # added by a newer producer
    message["partitionkey"] = "cus-0042"  # a CloudEvents extension we do not use
    received = Envelope.model_validate_json(json.dumps(message))
    assert received.event() == concession()


def test_envelope_uses_cloudevents_attribute_names() -> None:
    message = wire(wrap(concession(), traceparent=TRACEPARENT, causation_id="cmd-9"))
    required = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype"}
    assert required <= message.keys()
    assert message["specversion"] == "1.0"
    assert message["source"] == "/salesops/tasks"
    assert message["type"] == "sales.tasks.concession_exceeded"
    assert message["dataschema"] == "urn:salesops:schema:sales.tasks.concession_exceeded:v1"
    # CloudEvents attribute names are lowercase letters and digits only.
    assert all(re.fullmatch(r"[a-z0-9]+", name) for name in message)


def test_optional_attributes_are_absent_not_null_but_nulls_in_data_stay() -> None:
    first_state = DecisionStateChanged(
        customer_id="cus-0042",
        customer_name="Ningbo Precision Moulding Co.",
        owner_id="p-rep-li-na",
        org_unit_id="ou-east-group-2",
        from_state=None,
        to_state=DecisionState.BUDGET_PENDING,
        changed_by="p-rep-li-na",
        changed_at=datetime(2024, 5, 6, 1, 30, tzinfo=UTC),
    )
    message = wire(wrap(first_state, subject_id="cus-0042"))
    assert "traceparent" not in message
    assert "causationid" not in message
    assert message["data"]["from_state"] is None


def test_time_is_written_in_utc() -> None:
    assert wire(wrap(concession()))["time"] == "2024-05-06T01:30:00Z"


def test_a_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValidationError, match="time"):
        wrap(concession(), time=datetime(2024, 5, 6, 9, 30))


def test_event_id_is_a_lowercase_uuid_and_the_nats_msg_id() -> None:
    envelope = wrap(concession(), event_id=str(EVENT_ID).upper(), traceparent=TRACEPARENT)
    assert envelope.id == str(EVENT_ID)
    headers = envelope.nats_headers()
    assert headers["Nats-Msg-Id"] == str(EVENT_ID)
    assert headers["traceparent"] == TRACEPARENT


def test_a_malformed_traceparent_is_refused() -> None:
    with pytest.raises(ValidationError, match="traceparent"):
        wrap(concession(), traceparent="not-a-trace")


def test_a_namespaced_envelope_still_parses_into_its_event() -> None:
    envelope = wrap(concession(), namespace="run-7f3a")
    assert envelope.type == "run-7f3a.sales.tasks.concession_exceeded"
    assert envelope.dataschema.endswith("sales.tasks.concession_exceeded:v1")
    assert envelope.event() == concession()


def test_a_schema_version_this_code_cannot_read_is_an_error() -> None:
    message = wire(wrap(concession()))
    message["schemaversion"] = 2
    with pytest.raises(UnsupportedSchemaVersion, match="version 2"):
        Envelope.model_validate_json(json.dumps(message)).event()


def test_event_as_refuses_another_event_class() -> None:
    with pytest.raises(TypeError, match="ConcessionExceeded, not TaskSubmitted"):
        wrap(concession()).event_as(TaskSubmitted)


def test_published_events_and_envelopes_are_immutable() -> None:
    event = concession()
    with pytest.raises(ValidationError, match="frozen"):
        event.deal_price = Decimal("1")  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        wrap(event).actor = "someone-else"  # type: ignore[misc]


@pytest.mark.parametrize(
    "optional",
    [
        {},
        {
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "causationid": "c-0",
        },
    ],
)
@pytest.mark.parametrize(
    "when",
    [datetime(2024, 5, 6, 1, 30, tzinfo=UTC), datetime(2024, 5, 6, 1, 30, 0, 123456, tzinfo=UTC)],
)
def test_the_fast_serialiser_writes_exactly_what_the_model_writes(
    optional: dict[str, str], when: datetime
) -> None:
    from contracts.envelope import envelope_json
    from contracts.registry import EVENT_TYPES

    for event_class in EVENT_TYPES.values():
        event = event_class.examples()[0]
        parts: dict[str, Any] = dict(
            id="0b5e6c1e-2f0a-4a59-9a43-6f1b2a7d9c10",
            source=event.source(),
            type=event.subject("ns"),
            subject="s-1",
            time=when,
            dataschema=event.dataschema(),
            schemaversion=1,
            correlationid="corr",
            actor="rep-1",
            streamversion=3,
            data=event.model_dump(mode="json"),
            **optional,
        )
        assert envelope_json(**parts) == Envelope.model_construct(**parts).to_json_bytes()
