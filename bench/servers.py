"""The PostgreSQL and NATS servers the benchmark talks to, and throw-away resources on them.

Servers, in order of preference: ``SALESOPS_BENCH_DATABASE_URL`` / ``SALESOPS_BENCH_NATS_URL``,
then the test run's ``SALESOPS_TEST_DATABASE_URL`` / ``SALESOPS_TEST_NATS_URL``, then
embedded servers from the PyPI wheels. Every section gets its own database (dropped at the
end) and its own NATS namespace (its streams deleted at the end).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg

from salesops.db import quote_ident
from salesops.embedded import embedded_nats, embedded_postgres
from salesops.jetstream import connect_nats
from salesops.testing.fixtures import with_database


@dataclass(frozen=True)
class Servers:
    """Where the servers are and how they were found."""

    admin_dsn: str
    nats_url: str
    postgres_origin: str
    nats_origin: str


def _configured(suffix: str) -> tuple[str, str] | None:
    for variable in (f"SALESOPS_BENCH_{suffix}", f"SALESOPS_TEST_{suffix}"):
        value = os.environ.get(variable)
        if value:
            return value, variable
    return None


@contextlib.contextmanager
def bench_servers() -> Iterator[Servers]:
    """The configured servers, or embedded ones started (and stopped) for this run."""
    with contextlib.ExitStack() as stack:
        database = _configured("DATABASE_URL")
        if database is None:
            database = stack.enter_context(embedded_postgres()), "embedded"
        nats = _configured("NATS_URL")
        if nats is None:
            nats = stack.enter_context(embedded_nats()), "embedded"
        yield Servers(
            admin_dsn=database[0],
            nats_url=nats[0],
            postgres_origin=database[1],
            nats_origin=nats[1],
        )


def unique_suffix() -> str:
    """A short random hex string naming this run's database or namespace."""
    return uuid.uuid4().hex[:8]


@contextlib.asynccontextmanager
async def fresh_database(admin_dsn: str) -> AsyncIterator[str]:
    """A new database ``salesops_bench_<hex>``; yields its DSN, drops it WITH (FORCE) at exit."""
    name = f"salesops_bench_{unique_suffix()}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
    finally:
        await conn.close()
    try:
        yield with_database(admin_dsn, name)
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def fresh_namespace(nats_url: str) -> AsyncIterator[str]:
    """A new NATS namespace ``bench<hex>``; the streams named after it are deleted at exit."""
    namespace = f"bench{unique_suffix()}"
    try:
        yield namespace
    finally:
        nc = await connect_nats(nats_url, name="salesops-bench-cleanup")
        try:
            js = nc.jetstream()
            prefix = f"{namespace.upper()}_"
            for info in await js.streams_info():
                if info.config.name and info.config.name.startswith(prefix):
                    await js.delete_stream(info.config.name)
        finally:
            await nc.close()


async def server_versions(servers: Servers) -> dict[str, str]:
    """Versions and durability settings of the servers, for the report."""
    conn = await asyncpg.connect(servers.admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])",
            ["server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections"],
        )
    finally:
        await conn.close()
    settings = {row["name"]: row["setting"] for row in rows}
    nc = await connect_nats(servers.nats_url, name="salesops-bench-info")
    try:
        version = nc.connected_server_version
        nats_version = f"{version.major}.{version.minor}.{version.patch}"
    finally:
        await nc.close()
    return {
        "postgres": settings.pop("server_version", "unknown"),
        "postgres_origin": servers.postgres_origin,
        **{f"postgres_{name}": value for name, value in sorted(settings.items())},
        "nats": nats_version,
        "nats_origin": servers.nats_origin,
    }
