"""Test wiring shared by every directory: real servers (runtime plugin) and running services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from salesops.clock import ManualClock
from salesops.testing.apps import RunningService, running_service
from services.customers.service import CUSTOMERS
from services.tasks.service import TASKS

pytest_plugins = ["salesops.testing.fixtures"]


@pytest.fixture
async def customers(
    database_url: str, nats_url: str, namespace: str, schema: str, clock: ManualClock
) -> AsyncIterator[RunningService]:
    """The customers service running in-process on this test's schema and namespace."""
    async with running_service(
        CUSTOMERS,
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        schema=schema,
        clock=clock,
    ) as service:
        yield service


@pytest.fixture
async def tasks(
    database_url: str, nats_url: str, namespace: str, schema: str, clock: ManualClock
) -> AsyncIterator[RunningService]:
    """The tasks service running in-process on this test's schema and namespace."""
    async with running_service(
        TASKS,
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        schema=schema,
        clock=clock,
    ) as service:
        yield service
