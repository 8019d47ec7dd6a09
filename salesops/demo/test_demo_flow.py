"""A small generated company plays two working days through the real services.

Customers, tasks, collaboration and metrics run in-process on the test servers with one
manual clock; the player sends every command over HTTP (finance events over NATS) and moves
the clock, firing the timers on the way. Afterwards every indicator has data, the SLA board
shows an overdue stage, and every command did what the plan said it would.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from salesops.clock import ManualClock
from salesops.demo import SMALL, FinancePublisher, ManualPacer, Player, generate_company
from salesops.demo.commands import QuarterPlan
from salesops.demo.quarter import Rates, local, plan_quarter
from salesops.testing.apps import RunningService, running_service
from salesops.testing.waiting import eventually
from services.collaboration.service import COLLABORATION
from services.customers.service import CUSTOMERS
from services.metrics.service import METRICS
from services.tasks.service import TASKS

pytestmark = pytest.mark.integration

# Busier than a real rep, so two days of four reps hold every branch of every story.
BUSY = Rates(follow_ups=3, tasks=2.5, progress_reports=0.8, tickets=0.8)


@pytest.fixture
def plan() -> QuarterPlan:
    company = generate_company(seed=11, shape=SMALL)
    full = plan_quarter(company, period="2026-Q2", days=3, rates=BUSY)
    # The setup and the first two working days (1 and 2 April), up to the evening.
    return full.until(local(full.days[1], 20.0))


@pytest.fixture
async def stack(
    plan: QuarterPlan,
    database_url: str,
    nats_url: str,
    namespace: str,
    schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[dict[str, RunningService], ManualClock]]:
    org_file = tmp_path / "org.yaml"
    org_file.write_text(plan.company.org_yaml(), encoding="utf-8")
    monkeypatch.setenv("SALESOPS_ORG_FILE", str(org_file))
    clock = ManualClock(plan.start)
    async with contextlib.AsyncExitStack() as stack:
        services = {
            definition.name: await stack.enter_async_context(
                running_service(
                    definition,
                    database_url=database_url,
                    nats_url=nats_url,
                    namespace=namespace,
                    schema=f"{schema}_{definition.name[:3]}",
                    clock=clock,
                )
            )
            for definition in (CUSTOMERS, TASKS, COLLABORATION, METRICS)
        }
        yield services, clock


async def test_two_days_of_a_small_company_fill_every_figure_and_the_sla_board(
    plan: QuarterPlan,
    stack: tuple[dict[str, RunningService], ManualClock],
    js: JetStreamContext,
    namespace: str,
) -> None:
    services, clock = stack
    tokens = services["customers"].runtime.tokens

    async def fire_timers(now: datetime) -> None:
        for name in ("customers", "tasks", "collaboration"):
            await services[name].fire_due_timers()

    player = Player(
        {name: s.client for name, s in services.items()},
        lambda person: tokens.mint(person, ttl=timedelta(days=120)),
        ManualPacer(clock, fire_timers),
        publish=FinancePublisher(js, namespace),
        concurrency=1,
    )
    stats = await player.play(plan.commands)
    # Through the evening: the 18:00 cards, the 21:00 deadline, the SLA windows.
    await player.pacer.until(plan.end + timedelta(hours=3))

    assert len(plan.commands) > 150  # a setup and two working days of four reps
    assert stats.failures == [], stats.failures
    assert stats.failure_count == 0
    assert sum(stats.rejected_as_planned.values()) == sum(
        1 for c in plan.commands if c.expect is not None
    )
    assert sum(stats.ok.values()) + sum(stats.rejected_as_planned.values()) == len(plan.commands)

    director = services["metrics"].auth(plan.company.sales_director)
    metrics = services["metrics"].client

    async def figures() -> dict[str, Any] | None:
        indicators = await metrics.get("/indicators?unit=hq&period=2026-04", headers=director)
        activity = await metrics.get("/activity?unit=hq&period=2026-04", headers=director)
        health = await metrics.get("/health-dashboard?unit=hq&period=2026-04", headers=director)
        values = {f["measure"]: f["value"] for f in indicators.json()["figures"]}
        for body in (activity.json(), health.json()):
            values |= {
                k: v["value"] for k, v in body.items() if isinstance(v, dict) and "value" in v
            }
        return values if all(v is not None for v in values.values()) else None

    await eventually(figures, seconds=30)
    found = await figures()
    assert found is not None
    assert {
        "penetration",
        "trace",
        "on_time",
        "next_actions_on_time",
        "daily_report_validity",
        "support_answered_on_time",
        "collection_rate",
        "natural_collection_share",
        "first_order_margin",
    } <= set(found)

    board = await services["collaboration"].client.get(
        "/sla-board", headers=services["collaboration"].auth(plan.company.sales_director)
    )
    assert board.status_code == 200, board.text
    assert any(line["status"] == "overdue" for line in board.json()), board.json()
