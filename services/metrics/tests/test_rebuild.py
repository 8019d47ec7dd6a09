"""Rebuilding the read model from history while the service keeps consuming and answering."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import Any

import pytest
from nats.js import JetStreamContext

from contracts.base import IntegrationEvent
from contracts.envelope import Envelope
from salesops.clock import ManualClock
from salesops.consumers import ReceivedEvent
from salesops.db import quote_ident
from salesops.testing.apps import RunningService
from salesops.testing.waiting import eventually
from services.metrics.rebuild import RebuildAlreadyRunning, rebuild
from services.metrics.service import MetricsApp
from services.metrics.tests.march_history import (
    DIRECTOR,
    WANG,
    at,
    follow_up,
    march_history,
    publish_all,
)
from services.metrics.tests.test_fact_sql import table_rows

pytestmark = pytest.mark.integration


def app_of(metrics: RunningService) -> MetricsApp:
    app: MetricsApp = metrics.app.state.service
    return app


async def inbox_count(metrics: RunningService) -> int:
    return int(await metrics.runtime.pool.fetchval("SELECT count(*) FROM inbox"))


async def load(
    metrics: RunningService, js: JetStreamContext, namespace: str, events: list[IntegrationEvent]
) -> None:
    expected = await inbox_count(metrics) + len(events)
    await publish_all(js, namespace, events)

    async def all_in() -> bool:
        return await inbox_count(metrics) == expected

    await eventually(all_in)


async def indicators(metrics: RunningService) -> Any:
    response = await metrics.client.get(
        "/indicators?unit=hq&period=2026-03", headers=metrics.auth(DIRECTOR)
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def loaded(
    metrics: RunningService, js: JetStreamContext, namespace: str, clock: ManualClock
) -> RunningService:
    clock.set(at(18))
    await load(metrics, js, namespace, march_history())
    return metrics


@pytest.mark.parametrize("processes", ["here", "in worker processes"])
async def test_a_rebuild_gives_the_live_figures_and_the_live_rows(
    loaded: RunningService, database_url: str, processes: str
) -> None:
    app, pool = app_of(loaded), loaded.runtime.pool
    live_facts = await table_rows(pool, await app.read_model.active_schema(pool))
    before = await indicators(loaded)

    if processes == "here":
        report = await rebuild(pool, app.read_model)
    else:
        report = await rebuild(pool, app.read_model, dsn=database_url, parallel_from=0)

    assert report.generation == 2
    assert report.events == await inbox_count(loaded)
    assert await app.read_model.active_schema(pool) == app.read_model.generation_schema(2)
    assert await table_rows(pool, app.read_model.generation_schema(2)) == live_facts
    assert await indicators(loaded) == before


async def test_events_consumed_while_the_rebuild_runs_count_once_in_the_new_tables(
    loaded: RunningService, js: JetStreamContext, namespace: str
) -> None:
    app, pool = app_of(loaded), loaded.runtime.pool
    traced = [follow_up(f"fu-late-{i}", "c2", WANG, 10 + i / 100) for i in range(40)]
    answers_during_rebuild = []

    async def while_half_done() -> None:
        # The old tables keep taking events and answering questions meanwhile.
        await load(loaded, js, namespace, traced)
        answers_during_rebuild.append(await indicators(loaded))

    report = await rebuild(pool, app.read_model, after_replay=while_half_done)
    assert report.caught_up_events == len(traced)

    trace = {f["measure"]: f for f in (await indicators(loaded))["figures"]}["trace"]
    # March's 3 of 5, plus 40 traced follow-ups: 43 of 45.
    assert (trace["numerator"], trace["denominator"], trace["value"]) == ("43", "45", "95.56")
    during = {f["measure"]: f for f in answers_during_rebuild[0]["figures"]}["trace"]
    assert during["value"] == "95.56"  # the live generation had them too
    assert await table_rows(pool, app.read_model.generation_schema(2)) == await table_rows(
        pool, app.read_model.generation_schema(1)
    )


async def test_a_batch_that_commits_during_the_replay_is_caught_up_though_its_seq_is_lower(
    loaded: RunningService, namespace: str
) -> None:
    app, pool = app_of(loaded), loaded.runtime.pool
    late = follow_up("fu-committed-late", "c2", WANG, 11)
    envelope = Envelope.for_event(
        late,
        event_id=uuid.uuid4(),
        subject_id="c2",
        time=at(11),
        actor=WANG,
        stream_version=9,
        correlation_id="late",
        namespace=namespace,
    )
    conn = await pool.acquire()
    transaction = conn.transaction()
    await transaction.start()
    # A consumer batch in flight: its inbox row has a seq below everything written later.
    await app.live.apply(conn, [ReceivedEvent(envelope, envelope.type, 1)])

    async def commit_it_now() -> None:
        await transaction.commit()

    try:
        report = await rebuild(pool, app.read_model, after_replay=commit_it_now)
    finally:
        await pool.release(conn)
    assert report.caught_up_events == 1
    follow_ups = await pool.fetchval(
        f"SELECT count(*) FROM {quote_ident(app.read_model.generation_schema(2))}.follow_ups"
        " WHERE follow_up_id = 'fu-committed-late'"
    )
    assert follow_ups == 1


async def test_only_one_rebuild_runs_at_a_time_and_old_generations_are_dropped(
    loaded: RunningService,
) -> None:
    app, pool = app_of(loaded), loaded.runtime.pool
    started = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        started.set()
        await release.wait()

    first = asyncio.create_task(rebuild(pool, app.read_model, after_replay=hold))
    await started.wait()
    with pytest.raises(RebuildAlreadyRunning):
        await rebuild(pool, app.read_model)
    release.set()
    await first
    await rebuild(pool, app.read_model)  # generation 3; 2 is kept for readers mid-query
    schemas = {
        row["nspname"]
        for row in await pool.fetch(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)",
            f"{app.read_model.schema}_rm",
        )
    }
    assert schemas == {app.read_model.generation_schema(2), app.read_model.generation_schema(3)}


async def test_the_rebuild_command_switches_the_running_service_to_fresh_tables(
    loaded: RunningService, database_url: str, schema: str
) -> None:
    before = await indicators(loaded)
    env = {
        **os.environ,
        "SALESOPS_DATABASE_URL": database_url,
        "SALESOPS_DB_SCHEMA": schema,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "salesops.cli",
        "metrics",
        "rebuild",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith("generation 2 is live:")
    app = app_of(loaded)
    assert await app.read_model.active_generation(loaded.runtime.pool) == 2
    assert await indicators(loaded) == before
