"""Figures computed once for the requests of a short while, and fresh once it has passed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js import JetStreamContext

from salesops.clock import ManualClock
from salesops.testing.apps import RunningService, ServiceStarter
from salesops.testing.waiting import eventually
from services.metrics.changes import ChangeFeed
from services.metrics.service import METRICS, MetricsApp
from services.metrics.shared_reads import SharedReads
from services.metrics.tests.march_history import (
    CHEN,
    DIRECTOR,
    ZHANG,
    at,
    follow_up,
    march_history,
    publish_all,
)

pytestmark = pytest.mark.integration


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def trace_of(body: dict[str, Any]) -> str | None:
    value: str | None = next(f["value"] for f in body["figures"] if f["measure"] == "trace")
    return value


async def until_inbox_holds(metrics: RunningService, count: int) -> None:
    async def all_in() -> bool:
        found = await metrics.runtime.pool.fetchval("SELECT count(*) FROM inbox")
        return bool(found == count)

    await eventually(all_in)


async def test_the_nodes_share_the_sums_until_max_age_then_see_the_change(
    start_service: ServiceStarter,
    js: JetStreamContext,
    namespace: str,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SALESOPS_METRICS_REUSE_SECONDS", "1")
    clock.set(at(18))
    async with start_service(METRICS) as metrics:
        app: MetricsApp = metrics.app.state.service
        assert app.queries.shared.max_age == 1.0
        assert app.feed.delay == 1.0
        ticking = Ticking()
        shared = app.queries.shared = SharedReads(60, monotonic=ticking)
        history = march_history()
        await publish_all(js, namespace, history)
        await until_inbox_holds(metrics, len(history))

        director = metrics.auth(DIRECTOR)
        first: dict[str, Any] = {}
        for unit in ("hq", "group-east-1", ZHANG, CHEN):
            answer = await metrics.client.get(
                f"/indicators?unit={unit}&period=2026-03", headers=director
            )
            assert answer.status_code == 200, answer.text
            first[unit] = answer.json()
        # Per request: the target books, the coverage, the trace and the on-time sums; the
        # four nodes compute each once.
        assert (shared.computed, shared.shared) == (4, 12)
        assert trace_of(first["hq"]) == "60.00"  # march_history's hand-computed figure

        # A follow-up in March with no competitor news: one more record, not traced.
        late = follow_up("fu-shared", "c1", ZHANG, 10, competitor_notes=None)
        await publish_all(js, namespace, [late])
        await until_inbox_holds(metrics, len(history) + 1)
        hq = "/indicators?unit=hq&period=2026-03"
        within = await metrics.client.get(hq, headers=director)
        assert within.json() == first["hq"]  # still the shared computation
        ticking.now += 60
        after = await metrics.client.get(hq, headers=director)
        assert trace_of(after.json()) == "50.00"  # 3 of 6
        assert shared.computed == 8


async def test_the_pages_hear_of_a_change_after_the_figures_shared_before_it_expired() -> None:
    feed = ChangeFeed("postgresql://unused", "metrics_changes:x", delay=0.2)
    queue = feed.subscribe()
    loop = asyncio.get_running_loop()
    began = loop.time()
    feed._on_notice(None, 0, "metrics_changes:x", "facts")
    assert queue.empty()
    assert await asyncio.wait_for(queue.get(), timeout=5) == "facts"
    assert loop.time() - began >= 0.2
    without = ChangeFeed("postgresql://unused", "metrics_changes:x")
    now = without.subscribe()
    without._on_notice(None, 0, "metrics_changes:x", "facts")
    assert now.get_nowait() == "facts"


async def test_a_test_run_computes_every_request_afresh(start_service: ServiceStarter) -> None:
    # The test plugin's setting (salesops/testing/fixtures.py), not the deployed default.
    async with start_service(METRICS) as metrics:
        app: MetricsApp = metrics.app.state.service
        assert app.queries.shared.max_age == 0
