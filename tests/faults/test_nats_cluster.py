"""Fault: a node of a 3-node NATS JetStream cluster lost mid-flow.

Three nats-server processes routed to each other on loopback, every stream replicated 3
times (SALESOPS_NATS_STREAM_REPLICAS=3). While commands flow, the node leading the
customers stream is killed (SIGKILL): the two others elect a new leader, the services'
connections fail over, and every event still reaches the stream and the consumer once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

from contracts.subjects import dead_letter_stream_name, stream_name_for
from salesops.clock import ManualClock
from salesops.consumers import EventConsumers, ReceivedEvent
from salesops.db import DbConnection
from salesops.jetstream import connect_nats, ensure_dead_letter_stream, ensure_service_stream
from salesops.testing.events import decision_state_changed, publish_envelope
from salesops.testing.waiting import eventually
from services.customers.service import CUSTOMERS
from services.tasks.service import TASKS

from .servers import NatsCluster, nats_cluster
from .services import (
    Servers,
    caught_up,
    consumer_state,
    outbox_empty,
    replica,
    stored_and_streamed,
)
from .workload import known_customers, register_customer

pytestmark = pytest.mark.integration

COMMANDS = 60
CONSUMER = "tasks_customer_facts"
#: Streams on three nodes. Messages the lost node was delivering when it died are handed
#: out again after the consumers' ack wait (30 s by default): a short one bounds the wait.
CLUSTERED: dict[str, Any] = {"nats_stream_replicas": 3, "consumer_ack_wait_seconds": 2}


@pytest.fixture
def cluster() -> Iterator[NatsCluster]:
    with nats_cluster() as formed:
        yield formed


async def test_losing_a_node_mid_flow_loses_nothing_and_stalls_nothing(
    cluster: NatsCluster,
    database_url: str,
    namespace: str,
    schemas: dict[str, str],
    clock: ManualClock,
) -> None:
    servers = Servers(database_url, cluster.url, namespace)
    nc = await connect_nats(cluster.url, name="faults-observer")
    js = nc.jetstream()
    stream = stream_name_for("customers", namespace)
    try:
        async with (
            replica(
                CUSTOMERS, servers, schema=schemas["customers"], clock=clock, **CLUSTERED
            ) as customers,
            replica(TASKS, servers, schema=schemas["tasks"], clock=clock, **CLUSTERED) as tasks,
        ):
            info = await js.stream_info(stream)
            assert info.config.num_replicas == 3
            assert info.cluster is not None
            assert info.cluster.leader is not None
            leader = info.cluster.leader
            registered: list[str] = []

            async def flow() -> None:
                for i in range(COMMANDS):
                    registered.append(await register_customer(customers, f"集群 {i}"))
                    await asyncio.sleep(0.02)  # a steady trickle, not one burst

            flowing = asyncio.create_task(flow())
            await eventually(lambda: _true(len(registered) >= COMMANDS // 3), 20)
            # The node leading the stream dies under the flow: a new leader must be elected.
            cluster.node(leader).kill()
            await flowing
            assert len(registered) == COMMANDS, "commands never depended on NATS"

            async def projected() -> bool:
                known = await known_customers(database_url, schemas["tasks"])
                return len(known) == COMMANDS

            # Bounded: an election takes seconds, then the ack wait; nobody has to step in.
            await eventually(lambda: outbox_empty(database_url, schemas["customers"]), 20)
            await eventually(projected, 20)
            await eventually(lambda: caught_up(js, "customers", namespace, CONSUMER), 20)
            after = await js.stream_info(stream)
            state = await consumer_state(js, "customers", namespace, CONSUMER)
            assert tasks.runtime.nats.is_connected
            assert customers.runtime.nats.is_connected
        stored, in_stream = await stored_and_streamed(
            database_url, schemas["customers"], js, "customers", namespace
        )
    finally:
        await nc.close()

    assert after.cluster is not None
    assert after.cluster.leader not in (None, leader), "a surviving node leads the stream"
    assert len(in_stream) == len(set(in_stream)), "an event reached the stream twice"
    assert sorted(in_stream) == sorted(stored)
    assert len(stored) >= COMMANDS
    assert set(await known_customers(database_url, schemas["tasks"])) == set(registered)
    # The consumer's copies were replicated too: it went on from where the old leader was.
    assert state["acked_stream_seq"] == state["stream_last_seq"] == len(stored)


async def _true(value: bool) -> bool:
    return value


async def test_a_consumer_goes_on_after_a_fetch_refused_while_the_cluster_elects(
    pool: asyncpg.Pool, js: JetStreamContext, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the cluster test meets now and then, made certain: while a consumer's leader is
    # being elected, a pull is answered 503 (nats-py raises ServiceUnavailableError).
    await ensure_service_stream(js, "customers", namespace)
    handled: list[str] = []

    async def record(_conn: DbConnection, received: ReceivedEvent) -> None:
        handled.append(received.envelope.id)

    consumers = EventConsumers(pool, js, service="tasks", namespace=namespace, fetch_timeout=0.5)
    consumers.subscribe("probe", source_service="customers", handler=record)
    fetch = JetStreamContext.PullSubscription.fetch
    refusals = [ServiceUnavailableError(), ServiceUnavailableError()]

    async def refused_twice(
        self: JetStreamContext.PullSubscription, *args: Any, **kwargs: Any
    ) -> list[Msg]:
        if refusals:
            raise refusals.pop()
        return await fetch(self, *args, **kwargs)

    monkeypatch.setattr(JetStreamContext.PullSubscription, "fetch", refused_twice)
    await consumers.start()
    try:
        sent = decision_state_changed(namespace)
        await publish_envelope(js, sent)
        await eventually(lambda: _true(handled == [sent.id]), 10)
    finally:
        await consumers.stop()
    assert not refusals


async def test_a_consumer_goes_on_when_nats_does_not_take_a_dead_letter(
    pool: asyncpg.Pool, js: JetStreamContext, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A poison message's last attempt parks it on the dead-letter subject; if that publish
    # fails (no stream leader yet), the message must come back, not the loop end.
    await ensure_service_stream(js, "customers", namespace)
    await ensure_dead_letter_stream(js, namespace)

    async def refuse(_conn: DbConnection, _received: ReceivedEvent) -> None:
        raise ValueError("cannot apply this event")

    consumers = EventConsumers(
        pool, js, service="tasks", namespace=namespace, max_attempts=1, ack_wait=1
    )
    consumers.subscribe("probe", source_service="customers", handler=refuse)
    publish = js.publish
    failures = [NoStreamResponseError()]

    async def dead_letter_refused_once(subject: str, *args: Any, **kwargs: Any) -> Any:
        if ".dlq." in subject and failures:
            raise failures.pop()
        return await publish(subject, *args, **kwargs)

    monkeypatch.setattr(js, "publish", dead_letter_refused_once)
    await consumers.start()
    try:
        await publish_envelope(js, decision_state_changed(namespace))
        dead = dead_letter_stream_name(namespace)

        async def dead_lettered() -> bool:
            return bool((await js.stream_info(dead)).state.messages == 1)

        await eventually(dead_lettered, 15)
    finally:
        await consumers.stop()
    assert not failures
