"""Scale-out on one machine: two replicas of every service against one replica of each.

The replicas share everything a deployment shares: the durable consumers (JetStream hands
each message to one of them), the timers (both poll with FOR UPDATE SKIP LOCKED), the
relay (one holds the advisory lock, the other stands by) and the notifier's send queue.
The same commands and the same hours passing on the clock must give the same figures,
the same events and the same notifications — nothing twice, nothing missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from nats.js import JetStreamContext

from salesops.clock import ManualClock
from salesops.db import quote_ident
from salesops.testing.apps import RunningService, drop_schemas, every_service
from salesops.testing.commands import plan_task, submit_ticket
from salesops.testing.waiting import eventually
from services.notifier.platform_fakes import DingTalkFake, dingtalk_server

from .services import Servers, caught_up, replica
from .workload import (
    DIRECTOR,
    MANAGER,
    REP,
    change_decision_state,
    known_customers,
    register_customer,
)

pytestmark = pytest.mark.integration

SERVICES = every_service()
PUBLISHERS = ("customers", "tasks", "collaboration", "notifier")
#: Monday 2 March 2026, 10:00 in Shanghai: the day's 18:00 card and 21:00 deadline ahead.
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SECRET = "SEC-scale-out-robot"
OTHER_REP = "rep-wang-fang"
NEW_OWNER = "rep-liu-yang"  # same group as OTHER_REP
LEAD = "gl-li-na"  # the group's lead: may reassign


@dataclass(frozen=True)
class Outcome:
    """What one run ends with, in terms that do not depend on generated ids."""

    figures: list[Any]
    events: dict[str, Counter[str]]
    notifications: Counter[tuple[str, str, str, str]]
    robot_messages: int
    known_customers: dict[str, int]


class Deployment:
    """``replicas`` of every service on one set of schemas; requests spread round-robin."""

    def __init__(
        self, replicas: dict[str, list[RunningService]], database_url: str, conn: asyncpg.Connection
    ) -> None:
        self.replicas = replicas
        self.database_url = database_url
        self.conn = conn  # the test's own look at the databases
        self._next = {name: itertools.cycle(running) for name, running in replicas.items()}

    def any(self, service: str) -> RunningService:
        """The replica a load balancer would send the next request to."""
        return next(self._next[service])

    def schema(self, service: str) -> str:
        return self.replicas[service][0].runtime.schema

    async def scalar(self, service: str, sql: str, *args: Any) -> Any:
        await self.conn.execute(f"SET search_path TO {quote_ident(self.schema(service))}")
        return await self.conn.fetchval(sql, *args)

    async def fetch_one(self, service: str, sql: str, *args: Any) -> asyncpg.Record:
        await self.conn.execute(f"SET search_path TO {quote_ident(self.schema(service))}")
        row = await self.conn.fetchrow(sql, *args)
        assert row is not None
        return row


@contextlib.asynccontextmanager
async def deployment(
    count: int,
    *,
    database_url: str,
    nats_url: str,
    namespace: str,
    prefix: str,
    clock: ManualClock,
    services: dict[str, int] | None = None,
) -> AsyncIterator[Deployment]:
    """``count`` replicas of every service (or ``services``: name -> replicas)."""
    async with contextlib.AsyncExitStack() as stack:
        replicas: dict[str, list[RunningService]] = {}
        for name, replicas_of_it in (services or dict.fromkeys(SERVICES, count)).items():
            definition = SERVICES[name]
            replicas[name] = [
                await stack.enter_async_context(
                    replica(
                        definition,
                        Servers(database_url, nats_url, namespace),
                        schema=f"{prefix}_{name[:4]}",
                        clock=clock,
                        poll_timers=True,  # every replica polls timers and sends
                        timer_poll_seconds=0.1,
                    )
                )
                for _ in range(replicas_of_it)
            ]
        conn = await asyncpg.connect(database_url)
        stack.push_async_callback(conn.close)
        yield Deployment(replicas, database_url, conn)


#: How long the deliveries must stand still before the clock moves to the next minute.
STILL_SECONDS = 0.3


async def quiet(deployment: Deployment, clock: ManualClock, robot: DingTalkFake) -> None:
    """Until everything the clock's "now" causes has happened and nothing is in flight."""
    # The deliveries as last seen waiting for a later minute, and since when (real time).
    seen: list[Any] = [None, 0.0]

    async def at_rest() -> bool:
        now = clock.now()
        published = 0
        for name in PUBLISHERS:
            if await deployment.scalar(name, "SELECT count(*) FROM outbox"):
                return False
            if await deployment.scalar(
                name, "SELECT count(*) FROM timers WHERE fired_at IS NULL AND due_at <= $1", now
            ):
                return False
            if name != "notifier":
                published += await deployment.scalar(name, "SELECT count(*) FROM events")
        # Every event of the three tables projected and fanned out (private events aside,
        # they all are published: compared by count with what the consumers recorded).
        fanned_out = await deployment.scalar(
            "notifier",
            "SELECT count(*) FROM processed_events WHERE consumer LIKE 'notifier_fan_out_%'",
        )
        projected = await deployment.scalar("metrics", "SELECT count(*) FROM inbox")
        if not published or fanned_out != projected:
            return False
        if projected < await _published_count(deployment):
            return False
        waiting = await deployment.scalar(
            "notifier", "SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'"
        )
        if waiting is not None:
            if waiting > now:  # a robot's per-minute limit: the next minute sends the rest
                # Unless a replica is mid-batch: a claimed delivery waits for its lease too,
                # and moving the clock past it hands the message in flight to the other
                # replica (sent twice). Moved once the deliveries stood still a while.
                state = await deployment.fetch_one(
                    "notifier",
                    "SELECT count(*) FILTER (WHERE status = 'pending') AS pending,"
                    " count(*) FILTER (WHERE status = 'sent') AS sent,"
                    " max(next_attempt_at) AS latest FROM deliveries",
                )
                still = (waiting, tuple(state), len(robot.received))
                moment = asyncio.get_running_loop().time()
                if seen[0] != still:
                    seen[:] = [still, moment]
                elif moment - seen[1] >= STILL_SECONDS:
                    clock.advance(waiting - now)
            return False
        sent = await deployment.scalar(
            "notifier", "SELECT count(*) FROM deliveries WHERE status = 'sent'"
        )
        return bool(len(robot.received) == sent)

    await eventually(at_rest, 30)


async def _published_count(deployment: Deployment) -> int:
    from contracts.registry import EVENT_TYPES

    total = 0
    for name in ("customers", "tasks", "collaboration"):
        total += await deployment.scalar(
            name,
            "SELECT count(*) FROM events WHERE event_type = ANY($1::text[])",
            list(EVENT_TYPES),
        )
    return int(total)


async def run_scenario(deployment: Deployment, clock: ManualClock, robot: DingTalkFake) -> None:
    """A morning of table 1, 2 and 3 work, then the day and night passing."""
    owners = [REP, REP, REP, REP, OTHER_REP, OTHER_REP]
    customers = [
        await register_customer(deployment.any("customers"), f"扩容客户 {i}", owner=owner)
        for i, owner in enumerate(owners)
    ]
    for i, (customer_id, owner) in enumerate(zip(customers, owners, strict=True)):
        await change_decision_state(
            deployment.any("customers"), customer_id, "budget_pending", actor=owner
        )
        if i % 3 == 0:  # the manager must confirm joining the negotiation within 24 h
            await change_decision_state(
                deployment.any("customers"), customer_id, "intent_confirmed", actor=owner
            )
        service = deployment.any("customers")
        response = await service.client.post(
            f"/customers/{customer_id}/follow-ups",
            json={
                "kind": "visit",
                "contacted_at": (clock.now() - timedelta(hours=1)).isoformat(),
                "notes": "看了产线",
                "competitor_notes": "竞品报价低 5%" if i % 2 else None,
            },
            headers=service.auth(owner),
        )
        assert response.status_code == 201, response.text
    service = deployment.any("customers")
    confirmed = await service.client.post(
        f"/customers/{customers[0]}/negotiation-join/confirm", headers=service.auth(MANAGER)
    )
    assert confirmed.status_code == 200, confirmed.text

    async def everyone_knows() -> bool:
        for name in ("tasks", "collaboration"):
            if await deployment.scalar(name, "SELECT count(*) FROM known_customers") < 6:
                return False
        return True

    await eventually(everyone_knows, 20)
    for customer_id in customers[:4]:
        service = deployment.any("tasks")
        at = clock.now() + timedelta(hours=4)
        planned = await plan_task(service, customer_id, who=REP, at=at, title="拜访")
        assert planned.status_code == 201, planned.text
    for customer_id in customers[:2]:
        service = deployment.any("collaboration")
        ticket = await submit_ticket(
            service,
            customer_id,
            who=REP,
            quantity=2,
            document_types=["ce_certification_report", "installation_drawing_3d"],
        )
        assert ticket.status_code == 201, ticket.text
    await quiet(deployment, clock, robot)
    # The day and the night pass: the 18:00 card, the 21:00 deadline, the SLA windows and
    # their escalations, the morning meeting, the 24 h negotiation deadline.
    for hours in (9, 4, 12):
        clock.advance(timedelta(hours=hours))
        await quiet(deployment, clock, robot)


async def outcome(deployment: Deployment, robot: DingTalkFake) -> Outcome:
    metrics = deployment.any("metrics")
    director = metrics.auth(DIRECTOR)
    figures = [
        (await metrics.client.get(path, headers=director)).json()
        for path in ("/indicators?unit=hq&period=2026-03", "/activity?unit=hq&period=2026-03")
    ]
    events: dict[str, Counter[str]] = {}
    conn = deployment.conn
    for name in PUBLISHERS:
        rows = await conn.fetch(
            f"SELECT event_type FROM {quote_ident(deployment.schema(name))}.events"
        )
        events[name] = Counter(r["event_type"] for r in rows)
    rows = await conn.fetch(
        "SELECT event_type, person_id, channel, status"
        f" FROM {quote_ident(deployment.schema('notifier'))}.deliveries"
    )
    notifications = Counter((r[0], r[1], r[2], r[3]) for r in rows)
    known = {
        name: await conn.fetchval(
            f"SELECT count(*) FROM {quote_ident(deployment.schema(name))}.known_customers"
        )
        for name in ("tasks", "collaboration")
    }
    return Outcome(figures, events, notifications, len(robot.verified), known)


async def _run(
    count: int,
    *,
    database_url: str,
    nats_url: str,
    namespace: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Outcome:
    clock = ManualClock(START)
    async with dingtalk_server(secret=SECRET, clock=clock) as robot:
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_WEBHOOK", robot.webhook_url)
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_SECRET", SECRET)
        async with deployment(
            count,
            database_url=database_url,
            nats_url=nats_url,
            namespace=namespace,
            prefix=prefix,
            clock=clock,
        ) as deployed:
            await run_scenario(deployed, clock, robot)
            assert all(r.verified for r in robot.received)
            return await outcome(deployed, robot)


async def test_two_replicas_of_every_service_give_what_one_replica_gives(
    database_url: str,
    nats_url: str,
    js: JetStreamContext,
    namespace: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    single, double = f"{schema}_one", f"{schema}_two"
    try:
        one = await _run(
            1,
            database_url=database_url,
            nats_url=nats_url,
            namespace=f"{namespace}.one",
            prefix=single,
            monkeypatch=monkeypatch,
        )
        two = await _run(
            2,
            database_url=database_url,
            nats_url=nats_url,
            namespace=f"{namespace}.two",
            prefix=double,
            monkeypatch=monkeypatch,
        )
    finally:
        await drop_schemas(database_url, single, double)

    assert two.events == one.events, "the timers fired as often, the commands did the same"
    assert two.notifications == one.notifications
    assert two.robot_messages == one.robot_messages == sum(one.notifications.values())
    assert two.known_customers == one.known_customers == {"tasks": 6, "collaboration": 6}
    assert two.figures == one.figures
    # The scenario is not empty: escalations and timers did fire.
    assert one.events["customers"]["NegotiationJoinOverdue"] == 1
    assert one.events["collaboration"]["TicketTimedOut"] > 0


async def test_a_reassignment_applied_before_its_registration_by_another_replica_wins(
    database_url: str, nats_url: str, js: JetStreamContext, namespace: str, schema: str
) -> None:
    # Two replicas share the tasks service's customer consumer: a registration and the
    # reassignment right behind it often reach different replicas and are applied at
    # once, the reassignment first. The stream versions put them back in order.
    prefix = f"{schema}_order"
    try:
        async with deployment(
            2,
            database_url=database_url,
            nats_url=nats_url,
            namespace=namespace,
            prefix=prefix,
            clock=ManualClock(START),
            services={"customers": 1, "tasks": 2},
        ) as deployed:
            customers = deployed.any("customers")
            for i in range(30):
                customer_id = await register_customer(customers, f"转交 {i}", owner=OTHER_REP)
                moved = await customers.client.put(
                    f"/customers/{customer_id}/owner",
                    json={"owner_id": NEW_OWNER},
                    headers=customers.auth(LEAD),
                )
                assert moved.status_code == 200, moved.text

            async def all_known() -> bool:
                known = await deployed.scalar(
                    "tasks", "SELECT count(*) FROM known_customers WHERE name IS NOT NULL"
                )
                return bool(known == 30)

            await eventually(all_known, 20)

            async def all_published() -> bool:
                return not await deployed.scalar("customers", "SELECT count(*) FROM outbox")

            await eventually(all_published, 20)
            consumer = "tasks_customer_facts"
            await eventually(lambda: caught_up(js, "customers", namespace, consumer), 20)
            owners = await known_customers(database_url, deployed.schema("tasks"))
    finally:
        await drop_schemas(database_url, prefix)
    assert Counter(owner for _name, owner in owners.values()) == {NEW_OWNER: 30}
