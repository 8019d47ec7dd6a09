"""Wiring of the metrics service onto the shared chassis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from salesops.runtime import ServiceDefinition, ServiceRuntime
from services.metrics import dashboard, generations, http
from services.metrics.changes import ChangeFeed
from services.metrics.generations import ReadModel
from services.metrics.live import LiveProjection
from services.metrics.queries import MetricsQueries
from services.metrics.shared_reads import SharedReads


class MetricsSettings(BaseSettings):
    """``SALESOPS_METRICS_*``: where the records behind a figure can be opened."""

    model_config = SettingsConfigDict(env_prefix="SALESOPS_METRICS_", extra="ignore")

    #: Base URLs of the services that own records, e.g. {"tasks": "http://127.0.0.1:8102"}.
    links: dict[str, str] = Field(default_factory=dict)
    #: Seconds a figure's computation is shared by the requests that follow it (and the
    #: dashboards hear of a change this much later, so they never refetch an older one);
    #: 0 computes every request afresh.
    reuse_seconds: float = Field(default=1.0, ge=0, le=60)


@dataclass
class MetricsApp:
    queries: MetricsQueries
    read_model: ReadModel
    live: LiveProjection
    feed: ChangeFeed
    links: dict[str, str]


def changes_channel(schema: str) -> str:
    return f"metrics_changes:{schema}"


def bootstrap(runtime: ServiceRuntime) -> MetricsApp:
    read_model = ReadModel(runtime.schema)
    channel = changes_channel(runtime.schema)
    live = LiveProjection(read_model, channel)
    live.follow(runtime.consumers)
    settings = MetricsSettings()
    queries = MetricsQueries(
        runtime.pool,
        read_model,
        runtime.directory,
        runtime.policy,
        runtime.clock,
        SharedReads(settings.reuse_seconds),
    )
    feed = ChangeFeed(runtime.settings.database_url, channel, delay=settings.reuse_seconds)
    return MetricsApp(queries, read_model, live, feed, dict(settings.links))


async def on_start(app: MetricsApp) -> None:
    await app.read_model.ensure(app.queries.pool)


def workers(app: MetricsApp) -> Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
    return [app.feed.run]


METRICS = ServiceDefinition(
    name="metrics",
    title="Metrics (action certainty)",
    migrations=generations.MIGRATIONS,
    routers=[http.router, dashboard.router],
    bootstrap=bootstrap,
    on_start=on_start,
    workers=workers,
    publishes=False,
)
