"""Fault: a service whose start-up fails half-way (NATS refuses a stream).

The start must fail loudly and leave nothing behind: no NATS connection reconnecting for
ever, no relay or poller still running on a closed pool. In a process that exits anyway
this is tidiness; in a supervisor or a test run that starts services in-process, a leaked
connection keeps a client (and its subscriptions) alive on the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError

from contracts.subjects import service_subjects, stream_name_for
from salesops.jetstream import connect_nats
from salesops.runtime import ServiceDefinition, start_runtime
from salesops.settings import ServiceSettings
from salesops.testing.apps import drop_schemas
from salesops.testing.waiting import eventually
from services.customers.service import CUSTOMERS
from services.tasks.service import TASKS

from .servers import NatsNode

pytestmark = pytest.mark.integration


@pytest.fixture
async def own_schema(database_url: str, schema: str) -> AsyncIterator[str]:
    yield schema
    await drop_schemas(database_url, schema)


def _background_loops() -> list[str]:
    """The runtime's loops still scheduled in this event loop (relay, pollers, sampler)."""
    names = ("OutboxRelay.run", "TimerPoller.run", "MetricsSampler.run", "_consume")
    return [
        task.get_coro().__qualname__  # type: ignore[union-attr]
        for task in asyncio.all_tasks()
        if not task.done() and any(n in repr(task.get_coro()) for n in names)
    ]


async def _refuse_the_customers_stream(node: NatsNode, namespace: str) -> None:
    # In memory: the file-stored stream the consumers ask for cannot be made of it.
    nc = await connect_nats(node.url, name="faults-setup")
    try:
        await nc.jetstream().add_stream(
            StreamConfig(
                name=stream_name_for("customers", namespace),
                subjects=[service_subjects("customers", namespace)],
                storage=StorageType.MEMORY,
            )
        )
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("definition", "replicas"),
    [(CUSTOMERS, 3), (TASKS, 1)],
    ids=["its own stream refused", "a source stream refused after the relay started"],
)
async def test_a_start_that_fails_leaves_no_connection_and_no_loop_running(
    node: NatsNode,
    database_url: str,
    namespace: str,
    own_schema: str,
    definition: ServiceDefinition,
    replicas: int,
) -> None:
    # CUSTOMERS: a single server refuses three replicas, before anything started.
    # TASKS: its stream and the relay, timers and sampler are up when its consumers find
    # the customers stream they need cannot be made.
    if definition is TASKS:
        await _refuse_the_customers_stream(node, namespace)
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=node.url,
        nats_namespace=namespace,
        db_schema=own_schema,
        nats_stream_replicas=replicas,
    )
    with pytest.raises(APIError):
        async with start_runtime(definition, settings, poll_timers=True):
            pytest.fail("the start should have failed")

    name = f"salesops-{definition.name}"

    async def disconnected() -> bool:
        return name not in node.connection_names()

    await eventually(disconnected, 5)
    assert _background_loops() == []
