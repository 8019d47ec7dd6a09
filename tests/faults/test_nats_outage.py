"""Fault: NATS stopped for a while as commands flow.

Commands need only PostgreSQL, so they keep succeeding; their events wait in the outbox;
when NATS is back every one of them reaches the stream exactly once, and the consumers
resume where they stopped (no message handed out twice, none skipped).
"""

from __future__ import annotations

import pytest

from salesops.clock import ManualClock
from salesops.jetstream import connect_nats
from salesops.testing.apps import RunningService
from salesops.testing.waiting import eventually
from services.customers.service import CUSTOMERS
from services.tasks.service import TASKS

from .servers import NatsNode
from .services import (
    Servers,
    caught_up,
    consumer_state,
    outbox_empty,
    outbox_size,
    replica,
    stored_and_streamed,
)
from .workload import REP, known_customers, register_customer

pytestmark = pytest.mark.integration

BEFORE, DURING, AFTER = 10, 30, 10
CONSUMER = "tasks_customer_facts"  # the tasks service's copy of the customers


async def test_commands_succeed_while_nats_is_down_and_each_event_arrives_once_after(
    node: NatsNode,
    database_url: str,
    namespace: str,
    schemas: dict[str, str],
    clock: ManualClock,
) -> None:
    servers = Servers(database_url, node.url, namespace)
    nc = await connect_nats(node.url, name="faults-observer")
    js = nc.jetstream()
    try:
        async with (
            replica(CUSTOMERS, servers, schema=schemas["customers"], clock=clock) as customers,
            replica(TASKS, servers, schema=schemas["tasks"], clock=clock) as tasks,
        ):
            registered = [await register_customer(customers, f"客户 {i}") for i in range(BEFORE)]

            async def tasks_knows(count: int) -> bool:
                return len(await known_customers(database_url, schemas["tasks"])) == count

            await eventually(lambda: tasks_knows(BEFORE), 15)
            # Every ack reached the server before it stops: what follows is the outage alone.
            await eventually(lambda: caught_up(js, "customers", namespace, CONSUMER), 15)

            node.stop()

            async def nats_down(service: RunningService) -> bool:
                status, body = await service.readiness()
                return status == 503 and body.get("nats") == "not connected"

            await eventually(lambda: nats_down(customers), 10)
            await eventually(lambda: nats_down(tasks), 10)
            # Commands need only PostgreSQL: they keep succeeding (register_customer asserts
            # the 201), and their events wait in the outbox.
            registered += [await register_customer(customers, f"停机 {i}") for i in range(DURING)]
            waiting = await outbox_size(database_url, schemas["customers"])
            assert waiting >= DURING, "the events of the commands made during the outage"

            node.start()  # same port, same JetStream store: the streams and consumers are back

            async def ready(service: RunningService) -> bool:
                return (await service.readiness())[0] == 200

            await eventually(lambda: ready(customers), 20)
            await eventually(lambda: ready(tasks), 20)
            registered += [await register_customer(customers, f"恢复 {i}") for i in range(AFTER)]

            await eventually(lambda: outbox_empty(database_url, schemas["customers"]), 30)
            await eventually(lambda: tasks_knows(BEFORE + DURING + AFTER), 30)
            # nats-py reconnects the observer too; it reads the stream once everything is in.
            await eventually(lambda: caught_up(js, "customers", namespace, CONSUMER), 30)

        stored, in_stream = await stored_and_streamed(
            database_url, schemas["customers"], js, "customers", namespace
        )
        state = await consumer_state(js, "customers", namespace, CONSUMER)
    finally:
        await nc.close()

    assert len(in_stream) == len(set(in_stream)), "an event reached the stream twice"
    assert sorted(in_stream) == sorted(stored), "the stream holds exactly the stored events"
    assert len(stored) >= BEFORE + DURING + AFTER
    known = await known_customers(database_url, schemas["tasks"])
    assert set(known) == set(registered)
    assert {owner for _name, owner in known.values()} == {REP}
    # The durable consumer went on from where it was: every message was handed out once.
    assert state["deliveries"] == state["delivered_stream_seq"] == state["stream_last_seq"]
    assert state["stream_last_seq"] == len(stored)
