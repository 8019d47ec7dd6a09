"""Live updates: every replica's dashboards hear when any replica's projection changed facts.

The projection ``NOTIFY``s in its transaction, so a notice arrives only for a committed
change; one ``LISTEN`` connection per process fans the notices out to the open pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


class ChangeFeed:
    """Fans out the read model's change notices to any number of listeners.

    A notice reaches the listeners ``delay`` seconds after it arrived: the figures'
    computations are shared for that long (:mod:`services.metrics.shared_reads`), so a
    page refetching on the notice gets figures computed after the change.
    """

    def __init__(self, dsn: str, channel: str, *, delay: float = 0.0) -> None:
        self.dsn = dsn
        self.channel = channel
        self.delay = delay
        self._listeners: set[asyncio.Queue[str]] = set()

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=16)
        self._listeners.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._listeners.discard(queue)

    def publish(self, payload: str) -> None:
        for queue in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):  # a slow page refetches anyway
                queue.put_nowait(payload)

    def _on_notice(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        if self.delay > 0:
            asyncio.get_running_loop().call_later(self.delay, self.publish, str(payload))
        else:
            self.publish(str(payload))

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop``; reconnect after a lost connection."""
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("change feed cannot connect: %s", exc)
                await _wait(stop, 2)
                continue
            try:
                await conn.add_listener(self.channel, self._on_notice)
                while not stop.is_set() and not conn.is_closed():
                    await _wait(stop, 1)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
