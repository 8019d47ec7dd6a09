"""/readyz tells whether the service can reach its database and NATS right now."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import pytest

from salesops.embedded import embedded_nats, free_port
from salesops.testing.apps import ServiceStarter
from salesops.testing.waiting import eventually
from services.customers.service import CUSTOMERS

pytestmark = pytest.mark.integration


async def test_readiness_fails_while_nats_is_down_and_recovers_by_itself(
    start_service: ServiceStarter,
) -> None:
    folder, port = Path(tempfile.mkdtemp(prefix="salesops-ready-")), free_port()
    nats_server = contextlib.ExitStack()
    try:
        url = nats_server.enter_context(embedded_nats(folder, port))
        async with start_service(CUSTOMERS, nats_url=url) as service:
            assert await service.readiness() == (200, {"status": "ready"})

            nats_server.close()  # NATS goes away under the running service

            async def not_ready() -> bool:
                status, body = await service.readiness()
                return status == 503 and body.get("nats") == "not connected"

            await eventually(not_ready, 10)
            with embedded_nats(folder, port):

                async def ready_again() -> bool:
                    return (await service.readiness())[0] == 200

                await eventually(ready_again, 20)
    finally:
        nats_server.close()
        shutil.rmtree(folder, ignore_errors=True)
