"""The customers slice over HTTP, against real PostgreSQL and NATS JetStream."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js import JetStreamContext

from contracts.customers import DecisionStateChanged
from contracts.envelope import Envelope
from salesops.testing.apps import RunningService

pytestmark = pytest.mark.integration

REP = "rep-zhang-wei"  # reports to gl-li-na -> sm-qian-wenbo -> sd-zhao-guoqiang
OTHER_REP = "rep-chen-jing"  # another group
LEAD = "gl-li-na"
TECH = "te-luo-bin"

NEW_CUSTOMER = {"name": "宁波精密模具有限公司", "tier": "A", "estimated_contribution": "1200000.50"}


async def register(service: RunningService, who: str = REP, **changes: Any) -> dict[str, Any]:
    response = await service.client.post(
        "/customers", json={**NEW_CUSTOMER, **changes}, headers=service.auth(who)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def event_count(service: RunningService) -> int:
    return int(await service.runtime.pool.fetchval("SELECT count(*) FROM events"))


async def test_a_rep_registers_a_customer_they_own(customers: RunningService) -> None:
    response = await customers.client.post(
        "/customers", json=NEW_CUSTOMER, headers=customers.auth(REP)
    )

    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/customers/{body['customer_id']}"
    assert body["owner_id"] == REP
    assert body["org_unit_id"] == "group-east-1"
    assert body["estimated_contribution"] == "1200000.50"
    assert body["decision_state"] is None
    assert body["version"] == 1
    fetched = await customers.client.get(
        f"/customers/{body['customer_id']}", headers=customers.auth(REP)
    )
    assert fetched.json() == body


async def test_changing_the_decision_state_stores_and_publishes_decision_state_changed(
    customers: RunningService, js: JetStreamContext, namespace: str
) -> None:
    customer = await register(customers)
    subscription = await js.subscribe(DecisionStateChanged.subject(namespace))

    response = await customers.client.put(
        f"/customers/{customer['customer_id']}/decision-state",
        json={"state": "intent_confirmed", "expected_version": 1},
        headers={**customers.auth(REP), "X-Correlation-Id": "flow-42"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["decision_state"] == "intent_confirmed"
    assert response.json()["version"] == 3  # and NegotiationJoinRequested
    message = await subscription.next_msg(timeout=10)
    envelope = Envelope.model_validate_json(message.data)
    event = envelope.event_as(DecisionStateChanged)
    assert (event.from_state, event.to_state) == (None, "intent_confirmed")
    assert (event.customer_id, event.owner_id, event.changed_by) == (
        customer["customer_id"],
        REP,
        REP,
    )
    assert envelope.actor == REP
    assert envelope.correlationid == "flow-42"
    assert envelope.time == customers.clock.now()


async def test_setting_the_state_it_already_has_changes_nothing(customers: RunningService) -> None:
    customer = await register(customers)
    url = f"/customers/{customer['customer_id']}/decision-state"
    for _ in range(2):
        response = await customers.client.put(
            url, json={"state": "budget_pending"}, headers=customers.auth(REP)
        )
        assert response.status_code == 200
    assert response.json()["version"] == 2
    assert await event_count(customers) == 2


async def test_a_stale_expected_version_is_409_and_changes_nothing(
    customers: RunningService,
) -> None:
    customer = await register(customers)
    url = f"/customers/{customer['customer_id']}/decision-state"
    await customers.client.put(url, json={"state": "budget_pending"}, headers=customers.auth(REP))

    response = await customers.client.put(
        url, json={"state": "chose_competitor", "expected_version": 1}, headers=customers.auth(REP)
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["current_version"] == 2
    assert await event_count(customers) == 2


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({**NEW_CUSTOMER, "colour": "red"}, "colour", "is not a known field"),
        ({**NEW_CUSTOMER, "tier": "D"}, "tier", "Input should be 'A', 'B' or 'C'"),
        ({**NEW_CUSTOMER, "estimated_contribution": 1200000.5}, "estimated_contribution", "floats"),
        ({"tier": "A", "estimated_contribution": "1"}, "name", "is required"),
        ({**NEW_CUSTOMER, "name": ""}, "name", "at least 1 character"),
    ],
)
async def test_bad_registration_is_a_422_naming_the_field_and_writes_nothing(
    customers: RunningService, body: dict[str, Any], field: str, reason: str
) -> None:
    response = await customers.client.post("/customers", json=body, headers=customers.auth(REP))

    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == [field]
    assert reason in problem["errors"][0]["reason"]
    assert await event_count(customers) == 0


async def test_a_wrong_decision_state_is_a_422_naming_state(customers: RunningService) -> None:
    customer = await register(customers)
    response = await customers.client.put(
        f"/customers/{customer['customer_id']}/decision-state",
        json={"state": "maybe"},
        headers=customers.auth(REP),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "state"


async def test_malformed_json_is_a_400(customers: RunningService) -> None:
    response = await customers.client.post(
        "/customers",
        content=b'{"name": "x",',
        headers={**customers.auth(REP), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:salesops:problem:malformed-json"
    assert await event_count(customers) == 0


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Authorization header is missing"),
        ({"Authorization": "Basic abc"}, "must be 'Bearer <token>'"),
        ({"Authorization": "Bearer not-a-jwt"}, "token is invalid"),
    ],
)
async def test_requests_without_a_valid_token_are_401(
    customers: RunningService, headers: dict[str, str], detail: str
) -> None:
    response = await customers.client.post("/customers", json=NEW_CUSTOMER, headers=headers)
    assert response.status_code == 401
    assert detail in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await event_count(customers) == 0


async def test_a_token_for_someone_not_in_the_directory_is_401(customers: RunningService) -> None:
    response = await customers.client.get("/customers", headers=customers.auth("ghost"))
    assert response.status_code == 401
    assert "not in the org directory" in response.json()["detail"]


async def test_a_rep_cannot_see_another_reps_customer_but_their_lead_can(
    customers: RunningService,
) -> None:
    customer = await register(customers)
    url = f"/customers/{customer['customer_id']}"

    assert (await customers.client.get(url, headers=customers.auth(OTHER_REP))).status_code == 403
    assert (await customers.client.get(url, headers=customers.auth(LEAD))).status_code == 200
    other_list = await customers.client.get("/customers", headers=customers.auth(OTHER_REP))
    assert other_list.json() == []


async def test_a_lead_registers_for_a_rep_of_the_group_but_a_rep_not_for_a_colleague(
    customers: RunningService,
) -> None:
    by_lead = await register(customers, who=LEAD, owner_id=REP)
    assert by_lead["owner_id"] == REP
    response = await customers.client.post(
        "/customers", json={**NEW_CUSTOMER, "owner_id": OTHER_REP}, headers=customers.auth(REP)
    )
    assert response.status_code == 403


async def test_tech_staff_cannot_register_customers(customers: RunningService) -> None:
    response = await customers.client.post(
        "/customers", json=NEW_CUSTOMER, headers=customers.auth(TECH)
    )
    assert response.status_code == 403
    assert await event_count(customers) == 0


async def test_an_external_key_is_registered_once(customers: RunningService) -> None:
    await register(customers, external_key="ERP-1")
    response = await customers.client.post(
        "/customers", json={**NEW_CUSTOMER, "external_key": "ERP-1"}, headers=customers.auth(REP)
    )
    assert response.status_code == 409
    assert "ERP-1" in response.json()["detail"]
    assert await event_count(customers) == 1


async def test_health_readiness_and_metrics(customers: RunningService) -> None:
    assert (await customers.client.get("/healthz")).json()["status"] == "ok"
    ready = await customers.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    await customers.client.get("/customers", headers=customers.auth(REP))
    metrics = (await customers.client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/customers",status="200"}' in metrics
