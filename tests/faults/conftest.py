"""Fixtures of the fault tests: a private NATS node to stop, and schemas that outlive services.

The replicas of ``.services`` leave their schemas alone (a fault test restarts a service
on the same one); these fixtures drop them when the test ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from salesops.testing.apps import drop_schemas

from .servers import NatsNode, nats_node


@pytest.fixture
def node() -> Iterator[NatsNode]:
    """A NATS node of this test's own, to stop and start again (the run's is shared)."""
    with nats_node() as started:
        yield started


@pytest.fixture
async def schemas(database_url: str, schema: str) -> AsyncIterator[dict[str, str]]:
    """The schemas of the customers and tasks replicas, dropped after the test."""
    names = {"customers": f"{schema}_c", "tasks": f"{schema}_t"}
    yield names
    await drop_schemas(database_url, *names.values())
