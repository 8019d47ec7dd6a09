"""Serving an ASGI app on a real localhost port, inside the test's event loop.

In-process ASGI clients are enough for most tests; a browser, a reverse proxy or another
process needs a real address. The app's lifespan is entered by the caller (so a failing
start raises in the test rather than being logged by a server that just exits).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from salesops.embedded import free_port


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` (lifespan already entered) until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    serve = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # uvicorn offers no event to wait on
                if serve.done():
                    await serve  # raises why it could not bind
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serve
