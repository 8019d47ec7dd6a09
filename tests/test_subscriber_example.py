"""examples/outside_subscriber.py runs against the real NATS and does what its README says.

It is started as the outside system would start it (a subprocess, its own database, only
nats-py), fed with events published the way the customers service publishes them, and
stopped with Ctrl-C; so a change to the envelope or the subjects that breaks outside
subscribers breaks this test too.
"""

from __future__ import annotations

import ast
import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from nats.js import JetStreamContext

from contracts.customers import DecisionState, DecisionStateChanged
from contracts.envelope import Envelope
from salesops.jetstream import ensure_service_stream
from salesops.settings import REPO_ROOT
from salesops.testing.events import publish_customer_registered, publish_envelope
from salesops.testing.waiting import eventually

EXAMPLE = REPO_ROOT / "examples" / "outside_subscriber.py"


def test_the_example_imports_nothing_but_the_standard_library_and_nats() -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(EXAMPLE.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):  # a relative import shows as "" and fails
            imported.add("" if node.level else (node.module or "").split(".")[0])
    outside = imported - set(sys.stdlib_module_names) - {"__future__", "nats"}
    assert outside == set(), f"an outside system has no {outside}"


def decision(
    namespace: str,
    customer_id: str,
    to_state: DecisionState,
    stream_version: int,
    from_state: DecisionState | None = None,
) -> Envelope:
    event = DecisionStateChanged(
        customer_id=customer_id,
        customer_name="宁波精密模具有限公司",
        owner_id="p-rep-li-na",
        org_unit_id="ou-east-group-2",
        from_state=from_state,
        to_state=to_state,
        changed_by="p-rep-li-na",
        changed_at=datetime(2026, 3, 2, stream_version, tzinfo=UTC),
    )
    return Envelope.for_event(
        event,
        event_id=uuid4(),
        subject_id=customer_id,
        time=datetime.now(UTC),
        actor="p-rep-li-na",
        stream_version=stream_version,
        correlation_id=str(uuid4()),
        namespace=namespace,
    )


def as_version_2(envelope: Envelope) -> Envelope:
    """The same event as a producer of a (future) version 2 would label it."""
    return envelope.model_copy(
        update={
            "id": str(uuid4()),
            "dataschema": envelope.dataschema.replace(":v1", ":v2"),
            "schemaversion": 2,
        }
    )


@asynccontextmanager
async def subscriber(
    nats_url: str, namespace: str, db: Path, output: list[str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run the example until the block ends; its stdout lines are collected in ``output``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--nats-url",
        nats_url,
        "--namespace",
        namespace,
        "--db",
        str(db),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=db.parent,  # nowhere near the repository
        env={"PATH": os.environ.get("PATH", "")},
    )

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            output.append(line.decode().rstrip("\n"))

    reader = asyncio.create_task(read())
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            await process.wait()
            await reader
            assert process.stderr is not None
            errors = (await process.stderr.read()).decode()
    assert process.returncode == 0, errors


async def lines_matching(output: list[str], count: int) -> None:
    """Wait until the subscriber has reported on ``count`` messages."""

    async def reported() -> bool:
        return len([line for line in output if not line.startswith("following")]) >= count

    await eventually(reported)


def decision_rows(db: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT customer_id, decision_state, stream_version FROM customer_decisions"
            " ORDER BY customer_id"
        ).fetchall()
    return [(str(a), str(b), int(c)) for a, b, c in rows]


@pytest.mark.integration
async def test_the_example_applies_each_decision_once_and_resumes_where_it_stopped(
    nats_url: str, js: JetStreamContext, namespace: str, tmp_path: Path
) -> None:
    await ensure_service_stream(js, "customers", namespace)
    db = tmp_path / "crm.sqlite3"
    first = decision(namespace, "cus-1", DecisionState.NEEDS_TECH_VALIDATION, 1)
    newest = decision(
        namespace, "cus-1", DecisionState.INTENT_CONFIRMED, 3, DecisionState.NEEDS_TECH_VALIDATION
    )
    late = decision(namespace, "cus-1", DecisionState.BUDGET_PENDING, 2)
    other = decision(namespace, "cus-2", DecisionState.BUDGET_PENDING, 1)
    # Published before the subscriber ever ran: its durable consumer starts at the start.
    await publish_customer_registered(
        js, namespace, customer_id="cus-1", owner_id="p-rep-li-na", name="宁波精密模具"
    )
    await publish_envelope(js, first)
    await publish_envelope(js, newest)
    await publish_envelope(js, newest, msg_id=str(uuid4()))  # stored twice: a redelivery
    await publish_envelope(js, late)  # older than `newest`, arriving after it
    await publish_envelope(js, as_version_2(other))
    await publish_envelope(js, other)

    output: list[str] = []
    async with subscriber(nats_url, namespace, db, output) as process:
        await lines_matching(output, 7)
    assert process.returncode == 0
    stream = f"{namespace.upper().replace('.', '_')}_SALES_CUSTOMERS"
    assert (
        output[0] == f"following {namespace}.sales.customers.> in {stream} as subscriber_crm_sync"
    )
    verbs = [line.split(" ", 1)[0] for line in output[1:]]
    assert verbs == [
        "ignored",  # CustomerRegistered: not this system's business
        "applied",
        "applied",
        "duplicate",
        "stale",
        "skipped",  # version 2 is not read as version 1
        "applied",
        "stopped",
    ], output
    assert output[3].endswith("cus-1 needs_tech_validation -> intent_confirmed")
    assert decision_rows(db) == [
        ("cus-1", "intent_confirmed", 3),
        ("cus-2", "budget_pending", 1),
    ]

    # Restarted later: the durable consumer remembers what was acknowledged.
    await publish_envelope(js, decision(namespace, "cus-2", DecisionState.CHOSE_COMPETITOR, 2))
    again: list[str] = []
    async with subscriber(nats_url, namespace, db, again):
        await lines_matching(again, 1)
        await asyncio.sleep(1.5)  # one more fetch: nothing old comes back
    assert [line.split(" ", 1)[0] for line in again[1:]] == ["applied", "stopped"], again
    assert decision_rows(db)[1] == ("cus-2", "chose_competitor", 2)
    consumer = await js.consumer_info(stream, "subscriber_crm_sync")
    assert (consumer.num_pending, consumer.num_ack_pending) == (0, 0)
