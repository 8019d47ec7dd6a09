"""An outside system reads DecisionStateChanged from NATS with plain nats-py and the
exported JSON Schema — no project code on the reading side."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import nats
import pytest

from salesops.testing.apps import RunningService

pytestmark = pytest.mark.integration


@pytest.fixture
def exported_schema(tmp_path: Path) -> dict[str, object]:
    """The schema as a subscriber gets it: from `salesops contracts export`."""
    exported = subprocess.run(
        [sys.executable, "-m", "salesops.cli", "contracts", "export", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    schema_file = tmp_path / "sales.customers.decision_state_changed.v1.schema.json"
    assert str(schema_file) in exported.stdout
    schema: dict[str, object] = json.loads(schema_file.read_text())
    return schema


async def test_an_outside_subscriber_validates_decision_state_changed_against_the_exported_schema(
    customers: RunningService, nats_url: str, namespace: str, exported_schema: dict[str, object]
) -> None:
    schema = exported_schema

    # The outside system: a plain NATS client on the published subject.
    outside = await nats.connect(nats_url)
    try:
        subscription = await outside.jetstream().subscribe(
            f"{namespace}.sales.customers.decision_state_changed"
        )
        rep = customers.auth("rep-zhang-wei")
        created = await customers.client.post(
            "/customers",
            json={"name": "苏州德胜机电", "tier": "B", "estimated_contribution": "300000"},
            headers=rep,
        )
        customer_id = created.json()["customer_id"]
        await customers.client.put(
            f"/customers/{customer_id}/decision-state",
            json={"state": "needs_tech_validation"},
            headers=rep,
        )

        message = await subscription.next_msg(timeout=10)
    finally:
        await outside.close()

    payload = json.loads(message.data)
    jsonschema.Draft202012Validator(schema).validate(payload)
    assert message.headers is not None
    assert message.headers["Nats-Msg-Id"] == payload["id"]
    assert payload["specversion"] == "1.0"
    assert payload["data"]["customer_id"] == customer_id
    assert payload["data"]["to_state"] == "needs_tech_validation"
    # And the schema is not a rubber stamp: a float where a state belongs is refused.
    payload["data"]["to_state"] = 3.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(payload)
