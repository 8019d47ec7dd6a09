"""The metrics service on a real localhost port, for a browser to talk to.

``running_service`` talks to the app over ASGI, which a browser cannot; here uvicorn
serves it inside the caller's event loop, with the workers running (the change feed
behind ``/changes``) so a page hears about new facts as it would in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import uvicorn

from salesops.chassis import create_service_app
from salesops.clock import ManualClock
from salesops.db import quote_ident
from salesops.embedded import free_port
from salesops.runtime import ServiceRuntime
from salesops.settings import ServiceSettings
from services.metrics.service import METRICS


@dataclass
class ServedMetrics:
    base_url: str
    runtime: ServiceRuntime

    def token(self, person_id: str) -> str:
        return self.runtime.tokens.mint(person_id)


@contextlib.asynccontextmanager
async def serving_metrics(
    *, database_url: str, nats_url: str, namespace: str, schema: str, clock: ManualClock
) -> AsyncIterator[ServedMetrics]:
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=nats_url,
        nats_namespace=namespace,
        db_schema=schema,
        data_dir=Path(tempfile.mkdtemp(prefix=f"salesops-{schema}-")),
    )
    app = create_service_app(METRICS, settings, clock=clock, poll_timers=True)
    port = free_port()
    # The lifespan is entered here rather than by uvicorn so a failing start raises in the
    # test instead of being logged by a server that then just exits.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    try:
        async with app.router.lifespan_context(app):
            serving = asyncio.create_task(server.serve())
            try:
                async with asyncio.timeout(10):
                    while not server.started:
                        if serving.done():
                            await serving  # raises why it could not bind
                        await asyncio.sleep(0.01)
                yield ServedMetrics(f"http://127.0.0.1:{port}", app.state.runtime)
            finally:
                server.should_exit = True
                await serving
    finally:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
        await _drop_schemas(database_url, schema)


async def _drop_schemas(database_url: str, schema: str) -> None:
    """The service's schema and the ones it made beside it (the read-model generations)."""
    conn = await asyncpg.connect(database_url)
    try:
        beside = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR starts_with(nspname, $2)",
            schema,
            f"{schema}_",
        )
        for row in beside:
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(row['nspname'])} CASCADE")
    finally:
        await conn.close()
