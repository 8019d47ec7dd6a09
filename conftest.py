"""Test wiring shared by every directory: real servers (runtime plugin) and running services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from salesops.runtime import ServiceDefinition
from salesops.testing.apps import RunningService, ServiceStarter
from services.collaboration.service import COLLABORATION
from services.customers.service import CUSTOMERS
from services.metrics.service import METRICS
from services.tasks.service import TASKS

pytest_plugins = ["salesops.testing.fixtures"]


def service_fixture(definition: ServiceDefinition) -> Callable[..., Any]:
    """A fixture running ``definition`` in-process on the test's schema and namespace."""

    @pytest.fixture
    async def running(start_service: ServiceStarter) -> AsyncIterator[RunningService]:
        async with start_service(definition) as service:
            yield service

    return running


customers = service_fixture(CUSTOMERS)
tasks = service_fixture(TASKS)
collaboration = service_fixture(COLLABORATION)
metrics = service_fixture(METRICS)
