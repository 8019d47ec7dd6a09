"""The audit query: who changed a record, when, what, and from which request.

Two people change a customer, a task and a ticket over HTTP, each request carrying its
W3C ``traceparent`` (as a browser, the console or a gateway sends it). The audit trail of
each record names them, their times and the trace ids of their requests, oldest first.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from salesops.audit import AUDITORS
from salesops.clock import ManualClock
from salesops.orgdir import load_org_directory
from salesops.settings import REPO_ROOT
from salesops.testing.apps import RunningService, ServiceStarter
from salesops.testing.waiting import eventually
from services.collaboration.service import COLLABORATION
from services.customers.service import CUSTOMERS
from services.tasks.service import TASKS

pytestmark = pytest.mark.integration

REP, LEAD, ENGINEER = "rep-zhang-wei", "gl-li-na", "te-luo-bin"


def traceparent() -> tuple[str, str]:
    """A new request's trace context header and its trace id."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


async def send(
    service: RunningService, method: str, url: str, who: str, **kwargs: Any
) -> tuple[dict[str, Any], str]:
    """Make a request as ``who`` in a trace of its own; the body and the trace id."""
    header, trace_id = traceparent()
    response = await service.client.request(
        method, url, headers={**service.auth(who), "traceparent": header}, **kwargs
    )
    assert response.is_success, response.text
    body: dict[str, Any] = response.json()
    return body, trace_id


async def trail(service: RunningService, record_id: str, who: str = "it-fang-min") -> Any:
    response = await service.client.get(f"/audit/records/{record_id}", headers=service.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def services(start_service: ServiceStarter) -> AsyncIterator[dict[str, RunningService]]:
    running: dict[str, RunningService] = {}
    async with contextlib.AsyncExitStack() as stack:
        for definition in (CUSTOMERS, TASKS, COLLABORATION):
            running[definition.name] = await stack.enter_async_context(
                start_service(definition, own_schema=True)
            )
        yield running


async def test_the_trail_names_who_changed_a_customer_when_and_in_which_request(
    services: dict[str, RunningService], clock: ManualClock
) -> None:
    customers = services["customers"]
    registered_at = clock.now()
    created, first_trace = await send(
        customers,
        "POST",
        "/customers",
        REP,
        json={"name": "宁波精密模具", "tier": "A", "estimated_contribution": "1200000.00"},
    )
    customer = created["customer_id"]
    changed_at = clock.advance(timedelta(hours=3))
    _, second_trace = await send(
        customers, "PUT", f"/customers/{customer}/tier", LEAD, json={"tier": "B"}
    )
    correlation = "crm-sync-42"
    response = await customers.client.put(
        f"/customers/{customer}/decision-state",
        json={"state": "budget_pending"},
        headers={**customers.auth(REP), "X-Correlation-Id": correlation},
    )
    assert response.status_code == 200

    found = await trail(customers, customer)

    assert (found["service"], found["stream_id"]) == ("customers", f"customer-{customer}")
    changes = found["changes"]
    assert [(c["event_type"], c["stream_version"]) for c in changes] == [
        ("CustomerRegistered", 1),
        ("CustomerTierChanged", 2),
        ("DecisionStateChanged", 3),
    ]
    assert [(c["actor_id"], c["actor_name"]) for c in changes] == [
        (REP, "张伟"),
        (LEAD, "李娜"),
        (REP, "张伟"),
    ]
    assert [c["recorded_at"] for c in changes[:2]] == [
        registered_at.isoformat().replace("+00:00", "Z"),
        changed_at.isoformat().replace("+00:00", "Z"),
    ]
    assert [c["trace_id"] for c in changes[:2]] == [first_trace, second_trace]
    # A request without a traceparent has no caller's trace (a trace of its own when this
    # process records spans); it is still told apart by its correlation id.
    assert changes[2]["trace_id"] not in {first_trace, second_trace}
    assert changes[2]["correlation_id"] == correlation
    assert len({c["correlation_id"] for c in changes}) == 3


async def test_tasks_and_tickets_are_audited_by_their_ids(
    services: dict[str, RunningService], clock: ManualClock
) -> None:
    customers, tasks, tickets = services["customers"], services["tasks"], services["collaboration"]
    created, _ = await send(
        customers,
        "POST",
        "/customers",
        REP,
        json={"name": "无锡华光", "tier": "A", "estimated_contribution": "5"},
    )
    customer = created["customer_id"]
    for service in (tasks, tickets):
        pool = service.runtime.pool

        async def known(pool: Any = pool) -> bool:
            count = await pool.fetchval(
                "SELECT count(*) FROM known_customers WHERE customer_id = $1", customer
            )
            return bool(count)

        await eventually(known)

    task, planned_trace = await send(
        tasks,
        "POST",
        "/tasks",
        REP,
        json={
            "customer_id": customer,
            "kind": "other",
            "title": "电话回访",
            "scheduled_at": clock.now().isoformat(),
        },
    )
    _, submitted_trace = await send(
        tasks, "POST", f"/tasks/{task['task_id']}/submission", REP, files={"note": (None, "已回访")}
    )
    ticket, submitted_ticket_trace = await send(
        tickets,
        "POST",
        "/tickets",
        REP,
        json={
            "customer_id": customer,
            "product": "HY-75",
            "quantity": 1,
            "document_types": ["ce_certification_report"],
        },
    )
    clock.advance(timedelta(minutes=30))
    _, answered_trace = await send(
        tickets,
        "POST",
        f"/tickets/{ticket['ticket_id']}/tech/tech-electrical/answer",
        ENGINEER,
        json={"answer": "provided"},
    )

    task_trail = await trail(tasks, task["task_id"])
    assert task_trail["stream_id"] == f"task-{task['task_id']}"
    assert [(c["event_type"], c["actor_id"], c["trace_id"]) for c in task_trail["changes"]] == [
        ("TaskPlanned", REP, planned_trace),
        ("TaskSubmitted", REP, submitted_trace),
    ]
    ticket_trail = await trail(tickets, ticket["ticket_id"], who="sd-zhao-guoqiang")
    by_trace = {(c["actor_id"], c["trace_id"]) for c in ticket_trail["changes"]}
    assert by_trace == {(REP, submitted_ticket_trace), (ENGINEER, answered_trace)}
    versions = [c["stream_version"] for c in ticket_trail["changes"]]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))
    assert ticket_trail["changes"][-1]["event_type"] == "DocumentsCompleted"


async def test_only_admins_and_org_wide_reviewers_read_trails(
    services: dict[str, RunningService],
) -> None:
    customers = services["customers"]
    created, _ = await send(
        customers,
        "POST",
        "/customers",
        REP,
        json={"name": "常州新材料", "tier": "C", "estimated_contribution": "1"},
    )
    url = f"/audit/records/{created['customer_id']}"
    directory = load_org_directory(REPO_ROOT / "deploy" / "org.yaml")
    for person in directory.people:
        response = await customers.client.get(url, headers=customers.auth(person.id))
        may = any(person.has_role(role) for role in AUDITORS)
        assert response.status_code == (200 if may else 403), person.id
    assert (await customers.client.get(url)).status_code == 401
    unknown = await customers.client.get(
        "/audit/records/cus-nobody", headers=customers.auth("it-fang-min")
    )
    assert unknown.status_code == 404
