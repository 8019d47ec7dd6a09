"""Waiting for something another process does (a relay, a consumer), bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[object]], seconds: float = 15) -> None:
    """Poll ``check`` until it returns something truthy; fail after ``seconds``.

    This waits on real I/O between processes, never on business time (that is moved with
    the injected clock).
    """
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - the condition lives in another system
            await asyncio.sleep(0.02)
