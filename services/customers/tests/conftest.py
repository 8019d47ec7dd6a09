"""A running customers service per test, on the run's real PostgreSQL and NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from salesops.clock import ManualClock
from salesops.testing.apps import RunningService, running_service
from services.customers.service import CUSTOMERS


@pytest.fixture
async def customers(
    database_url: str, nats_url: str, namespace: str, schema: str, clock: ManualClock
) -> AsyncIterator[RunningService]:
    async with running_service(
        CUSTOMERS,
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        schema=schema,
        clock=clock,
    ) as service:
        yield service
