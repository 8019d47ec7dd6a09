"""Fault: a service killed (SIGKILL) mid-way through a batch of events.

The metrics service (fact tables behind every figure) and the notifier (one message per
event and recipient) run as real processes and are killed while they work through a
batch of ~1,850 events; restarted, they end with exactly what a run without the kill
gives — the same fact rows, figures, deliveries and DingTalk messages, nothing missing,
nothing counted or sent twice. Whatever the killed process held unacknowledged comes
back after the consumers' ack wait (1 s here, SALESOPS_CONSUMER_ACK_WAIT_SECONDS).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from nats.js import JetStreamContext

from salesops.auth import TokenIssuer
from salesops.clock import ManualClock
from salesops.db import quote_ident
from salesops.settings import DEV_JWT_SECRET
from salesops.testing.apps import drop_schemas
from salesops.testing.waiting import eventually
from services.metrics.service import METRICS
from services.notifier.platform_fakes import DingTalkFake, dingtalk_server
from services.notifier.service import NOTIFIER

from .gate import gate_to
from .history import Batch, kill_batch, publish
from .services import Servers, ServiceProcess, replica
from .workload import DIRECTOR, MANAGER

pytestmark = pytest.mark.integration

SECRET = "SEC-faults-robot"
NOTIFIED_SOURCES = ("customers", "tasks", "collaboration")
FIGURES = ("/indicators?unit=hq&period=2026-03", "/activity?unit=hq&period=2026-03")


@pytest.fixture
def batch() -> Batch:
    return kill_batch(follow_ups=300, payments=1500, notified=12)


@pytest.fixture
async def schemas(database_url: str, schema: str) -> AsyncIterator[dict[str, str]]:
    names = {
        "killed_metrics": f"{schema}_km",
        "killed_notifier": f"{schema}_kn",
        "metrics": f"{schema}_rm",
        "notifier": f"{schema}_rn",
    }
    yield names
    await drop_schemas(database_url, *names.values())


async def _scalar(database_url: str, sql: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        value: int = await conn.fetchval(sql)
        return value
    except asyncpg.UndefinedTableError:  # the service has not migrated its schema yet
        return 0
    finally:
        await conn.close()


def inbox_count(schema: str) -> str:
    return f"SELECT count(*) FROM {quote_ident(schema)}.inbox"


def handled_count(schema: str) -> str:
    return (
        f"SELECT count(*) FROM {quote_ident(schema)}.processed_events"
        " WHERE consumer LIKE 'notifier_fan_out_%'"
    )


def sent_count(schema: str) -> str:
    return f"SELECT count(*) FROM {quote_ident(schema)}.deliveries WHERE status = 'sent'"


async def fact_rows(database_url: str, schema: str) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every row of every fact table of the live read model, table by table."""
    conn = await asyncpg.connect(database_url)
    try:
        facts = f"{schema}_rm1"
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", facts
        )
        rows: dict[str, Counter[tuple[Any, ...]]] = {}
        for table in tables:
            name = table["table_name"]
            records = await conn.fetch(f"SELECT * FROM {quote_ident(facts)}.{quote_ident(name)}")
            rows[name] = Counter(tuple(r.values()) for r in records)
        return rows
    finally:
        await conn.close()


async def deliveries(database_url: str, schema: str) -> Counter[tuple[Any, ...]]:
    conn = await asyncpg.connect(database_url)
    try:
        records = await conn.fetch(
            "SELECT event_id, event_type, person_id, channel, status, attempts, message::text"
            f" FROM {quote_ident(schema)}.deliveries"
        )
    finally:
        await conn.close()
    return Counter(tuple(r.values()) for r in records)


def messages(robot: DingTalkFake) -> Counter[str]:
    """What the robot accepted and posted to the group, message by message."""
    return Counter(
        str(body)
        for request, body in zip(robot.received, robot.bodies(), strict=True)
        if request.verified
    )


async def killed_mid_way(
    process: ServiceProcess, database_url: str, progress: str, total: int, *, past: int
) -> int:
    """SIGKILL the process once it committed more than ``past`` of the batch, not all of it."""

    async def started_not_finished() -> bool:
        return past < await _scalar(database_url, progress) < total

    await eventually(started_not_finished, 60)
    process.kill()
    done = await _scalar(database_url, progress)
    assert done < total, "the kill came too late: the batch was already done"
    return done


async def reference_run(
    batch: Batch,
    database_url: str,
    nats_url: str,
    namespace: str,
    schemas: dict[str, str],
) -> list[Any]:
    """The same batch through the same services, in this process and never killed."""
    clock = ManualClock(datetime.now(UTC))
    servers = Servers(database_url, nats_url, namespace)
    async with (
        replica(METRICS, servers, schema=schemas["metrics"], clock=clock) as metrics,
        replica(NOTIFIER, servers, schema=schemas["notifier"], clock=clock) as notifier,
    ):

        async def all_in() -> bool:
            return await _scalar(database_url, inbox_count(schemas["metrics"])) == len(
                batch.events
            ) and await _scalar(database_url, handled_count(schemas["notifier"])) == batch.count(
                services=NOTIFIED_SOURCES
            )

        await eventually(all_in, 60)
        assert await notifier.app.state.service.worker.tick() == len(batch.notified)
        return [
            (await metrics.client.get(path, headers=metrics.auth(DIRECTOR))).json()
            for path in FIGURES
        ]


async def test_services_killed_mid_batch_end_with_what_a_run_without_the_kill_gives(
    batch: Batch,
    database_url: str,
    nats_url: str,
    js: JetStreamContext,
    namespace: str,
    schemas: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    total = len(batch.events)
    notifier_total = batch.count(services=NOTIFIED_SOURCES)
    notified = len(batch.notified)
    killed_ns, reference_ns = f"{namespace}.killed", f"{namespace}.reference"
    await publish(js, batch, killed_ns)
    await publish(js, batch, reference_ns)

    async with (
        dingtalk_server(secret=SECRET) as killed_robot,
        dingtalk_server(secret=SECRET) as reference_robot,
        gate_to(int(killed_robot.url.rsplit(":", 1)[1])) as gate,
    ):
        env = {
            "SALESOPS_DATABASE_URL": database_url,
            "SALESOPS_NATS_URL": nats_url,
            "SALESOPS_NATS_NAMESPACE": killed_ns,
            "SALESOPS_CONSUMER_ACK_WAIT_SECONDS": "1",
        }
        through_the_gate = killed_robot.webhook_url.replace(
            killed_robot.url, f"http://127.0.0.1:{gate.port}"
        )

        def processes() -> list[ServiceProcess]:
            return [
                ServiceProcess(
                    "metrics",
                    {**env, "SALESOPS_DB_SCHEMA": schemas["killed_metrics"]},
                    tmp_path / "metrics.log",
                ),
                ServiceProcess(
                    "notifier",
                    {
                        **env,
                        "SALESOPS_DB_SCHEMA": schemas["killed_notifier"],
                        "SALESOPS_NOTIFY_DINGTALK_WEBHOOK": through_the_gate,
                        "SALESOPS_NOTIFY_DINGTALK_SECRET": SECRET,
                    },
                    tmp_path / "notifier.log",
                ),
            ]

        first = processes()
        for process in first:
            process.start()
        try:
            # Metrics: after its first 500-event transaction; the notifier (one transaction
            # per event) after its first hundred.
            await asyncio.gather(
                killed_mid_way(
                    first[0],
                    database_url,
                    inbox_count(schemas["killed_metrics"]),
                    total,
                    past=499,
                ),
                killed_mid_way(
                    first[1],
                    database_url,
                    handled_count(schemas["killed_notifier"]),
                    notifier_total,
                    past=99,
                ),
            )
        finally:
            for process in first:
                process.kill()
        assert not killed_robot.received, "the robot line was held: nothing reached it"
        gate.open()

        # The run without the kill goes on in this process while the killed ones restart.
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_WEBHOOK", reference_robot.webhook_url)
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_SECRET", SECRET)
        reference = asyncio.create_task(
            reference_run(batch, database_url, nats_url, reference_ns, schemas)
        )
        second = processes()
        for process in second:
            process.start()
        try:
            await asyncio.gather(*(process.ready() for process in second))

            async def all_in() -> bool:
                return (
                    await _scalar(database_url, inbox_count(schemas["killed_metrics"])) == total
                    and await _scalar(database_url, handled_count(schemas["killed_notifier"]))
                    == notifier_total
                    and len(killed_robot.received) >= notified
                )

            await eventually(all_in, 60)
            await asyncio.sleep(0.5)  # a message sent twice would show within a send tick
            director = TokenIssuer(DEV_JWT_SECRET, "salesops").mint(DIRECTOR)
            async with httpx.AsyncClient(
                base_url=second[0].base_url, headers={"Authorization": f"Bearer {director}"}
            ) as client:
                killed_figures = [(await client.get(path)).json() for path in FIGURES]
        finally:
            for process in second:
                process.stop()
            reference_figures = await reference

    assert await _scalar(database_url, sent_count(schemas["killed_notifier"])) == notified
    assert await fact_rows(database_url, schemas["killed_metrics"]) == await fact_rows(
        database_url, schemas["metrics"]
    )
    assert killed_figures == reference_figures
    trace = next(f for f in reference_figures[0]["figures"] if f["measure"] == "trace")
    assert trace["value"] is not None, "the comparison is about real figures"
    killed_deliveries = await deliveries(database_url, schemas["killed_notifier"])
    assert killed_deliveries == await deliveries(database_url, schemas["notifier"])
    assert {d[2] for d in killed_deliveries} == {MANAGER}
    # One message per event and recipient, on both runs: each notified change once.
    assert messages(killed_robot) == messages(reference_robot)
    assert sorted(messages(killed_robot).values()) == [1] * notified
