"""Pytest fixtures: real PostgreSQL and NATS JetStream, isolated per run and per test.

Each run gets its own database and a NATS namespace (subject prefix and stream names), each
test its own schema and sub-namespace; all are removed at the end, so servers that outlive
a run (a developer's, CI's) never carry one run's leftovers into the next.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from salesops.clock import ManualClock
from salesops.db import apply_migrations, create_pool, quote_ident
from salesops.jetstream import connect_nats
from salesops.runtime_migrations import RUNTIME_MIGRATIONS
from salesops.testing.apps import ServiceStarter
from salesops.testing.servers import nats_server, postgres_server

_counter = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    # Tests compare a figure before and after a change made within the same second: the
    # metrics service computes every request afresh in a test run; sharing is tested on its
    # own (services/metrics/tests/test_shared_figures.py). A hook, not an import-time
    # setting: the benchmark imports this module and must run as deployed.
    os.environ.setdefault("SALESOPS_METRICS_REUSE_SECONDS", "0")


def with_database(dsn: str, database: str) -> str:
    """The same server DSN pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _run(coro: object) -> object:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)  # type: ignore[arg-type]
    finally:
        loop.close()


@pytest.fixture(scope="session")
def test_run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def database_url(test_run_id: str) -> Iterator[str]:
    """A database of this test run's own, dropped at the end."""
    with postgres_server() as admin_dsn:
        name = f"salesops_test_{test_run_id}"

        async def create() -> None:
            conn = await asyncpg.connect(admin_dsn)
            try:
                await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
            finally:
                await conn.close()

        async def drop() -> None:
            conn = await asyncpg.connect(admin_dsn)
            try:
                await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
            finally:
                await conn.close()

        _run(create())
        try:
            yield with_database(admin_dsn, name)
        finally:
            _run(drop())


@pytest.fixture(scope="session")
def nats_url(test_run_id: str) -> Iterator[str]:
    """NATS with JetStream; every stream this run created is deleted at the end."""
    with nats_server() as url:
        yield url

        async def delete_streams() -> None:
            nc = await connect_nats(url, name="salesops-test-cleanup")
            try:
                js = nc.jetstream()
                prefix = f"T{test_run_id}".upper()
                for name in await js.streams_info():
                    if name.config.name and name.config.name.startswith(prefix):
                        await js.delete_stream(name.config.name)
            finally:
                await nc.close()

        _run(delete_streams())


@pytest.fixture
def namespace(test_run_id: str) -> str:
    """This test's NATS namespace: its own subjects and streams."""
    return f"t{test_run_id}.n{next(_counter)}"


@pytest.fixture
def schema() -> str:
    """This test's PostgreSQL schema."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's schema with the runtime tables (events, outbox, timers...)."""
    db_pool = await create_pool(database_url, schema, min_size=1, max_size=20)
    await apply_migrations(db_pool, schema, RUNTIME_MIGRATIONS)
    try:
        yield db_pool
    finally:
        await db_pool.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await db_pool.close()


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[NatsClient]:
    nc = await connect_nats(nats_url, name="salesops-test")
    try:
        yield nc
    finally:
        await nc.close()


@pytest.fixture
def js(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()


@pytest.fixture
def start_service(
    database_url: str, nats_url: str, namespace: str, schema: str, clock: ManualClock
) -> ServiceStarter:
    """Starts a service on this test's servers, namespace, schema and clock."""
    return ServiceStarter(database_url, nats_url, namespace, schema, clock)
