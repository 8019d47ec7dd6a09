"""Run a service app in-process against the test run's real servers."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from salesops.catalog import CATALOG
from salesops.chassis import create_service_app
from salesops.clock import ManualClock
from salesops.db import quote_ident
from salesops.runtime import ServiceDefinition, ServiceRuntime
from salesops.settings import ServiceSettings
from salesops.testing.served import serving


@dataclass
class RunningService:
    """An app with its lifespan entered, and a client that talks to it over ASGI."""

    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    #: The real address it listens on, when started with ``on_port=True``.
    base_url: str | None = None

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    async def fire_due_timers(self) -> int:
        """Fire every timer due at the manual clock's now, as the poller would; returns how many."""
        poller = self.runtime.timer_poller
        assert poller is not None, "this service has no timers"
        fired = 0
        while batch := await poller.fire_due():
            fired += batch
        return fired

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        """What ``GET /readyz`` answers: the status code and the body."""
        response = await self.client.get("/readyz")
        return response.status_code, response.json()

    def auth(self, person_id: str) -> dict[str, str]:
        """Headers of a request made by ``person_id``."""
        return {"Authorization": f"Bearer {self.runtime.tokens.mint(person_id)}"}


def every_service() -> dict[str, ServiceDefinition]:
    """Every service of the catalog, by name and in its order (customers first, metrics last)."""
    return {name: entry.definition() for name, entry in CATALOG.items()}


@contextlib.asynccontextmanager
async def running_service(
    definition: ServiceDefinition,
    *,
    database_url: str,
    nats_url: str,
    namespace: str,
    schema: str,
    clock: ManualClock,
    on_port: bool = False,
    poll_timers: bool = False,
    nats_user: str | None = None,
    nats_password: str | None = None,
) -> AsyncIterator[RunningService]:
    """The service on the test's servers; ``on_port`` serves it on a real localhost port too
    (for a browser or another process), ``poll_timers`` runs its pollers and workers;
    ``nats_user``/``nats_password`` log it in on a NATS with authorization."""
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=nats_url,
        nats_namespace=namespace,
        nats_user=nats_user,
        nats_password=nats_password,
        db_schema=schema,
        data_dir=Path(tempfile.mkdtemp(prefix=f"salesops-{schema}-")),
    )
    app = create_service_app(definition, settings, clock=clock, poll_timers=poll_timers)
    try:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            if on_port:
                base_url = await stack.enter_async_context(serving(app))
                client = httpx.AsyncClient(base_url=base_url)
            else:
                base_url = None
                client = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://test"
                )
            async with client:
                yield RunningService(app, client, clock, base_url)
    finally:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
        await drop_schemas(database_url, schema)


@dataclass(frozen=True)
class ServiceStarter:
    """``running_service`` on one test's servers, namespace, schema and clock (the
    ``start_service`` fixture): ``async with start_service(NOTIFIER) as notifier``."""

    database_url: str
    nats_url: str
    namespace: str
    schema: str
    clock: ManualClock

    def __call__(
        self,
        definition: ServiceDefinition,
        *,
        own_schema: bool = False,
        nats_url: str | None = None,
        on_port: bool = False,
        poll_timers: bool = False,
        nats_user: str | None = None,
        nats_password: str | None = None,
    ) -> contextlib.AbstractAsyncContextManager[RunningService]:
        """The service on the test's schema or, with ``own_schema``, on one of its own beside
        it (``<schema>_<service>``: for a test running several services); ``nats_url`` puts
        it on another NATS than the run's (one the test stops, say)."""
        return running_service(
            definition,
            database_url=self.database_url,
            nats_url=nats_url or self.nats_url,
            namespace=self.namespace,
            schema=f"{self.schema}_{definition.name}" if own_schema else self.schema,
            clock=self.clock,
            on_port=on_port,
            poll_timers=poll_timers,
            nats_user=nats_user,
            nats_password=nats_password,
        )


async def drop_schemas(database_url: str, *schemas: str) -> None:
    """Each schema and any a service made beside it (e.g. read-model generations)."""
    conn = await asyncpg.connect(database_url)
    try:
        for schema in schemas:
            beside = await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR starts_with(nspname, $2)",
                schema,
                f"{schema}_",
            )
            for row in beside:
                await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(row['nspname'])} CASCADE")
    finally:
        await conn.close()
