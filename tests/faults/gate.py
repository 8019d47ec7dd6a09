"""A TCP hop between a service and a fake platform that can hold traffic, like a partition.

While held, connections are accepted and nothing reaches the platform: a request waits
for an answer that does not come (as when the network drops packets). Opened, new
connections are piped through; the held ones are closed without ever having been
forwarded, so the platform never saw them.

Why: a chat robot offers no idempotency key, so a message the robot took but the killed
sender could not record is, inevitably, sent again (at-least-once to the outside world).
A fault test that kills the notifier "mid-way through a batch of events" holds the robot
line meanwhile, so the kill lands in the consumer's work, which must be exactly once,
and never in that one unavoidable window.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Gate:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.held = 0
        self._open = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def open(self) -> None:
        self._open.set()

    async def close(self) -> None:
        self._open.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if not self._open.is_set():
                self.held += 1
                await self._open.wait()
                return  # dropped: its bytes went nowhere
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
            try:
                await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
            finally:
                upstream_writer.close()
        finally:
            writer.close()
            self._tasks.discard(task)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(OSError):
        sink.write_eof()


@contextlib.asynccontextmanager
async def gate_to(target_port: int) -> AsyncIterator[Gate]:
    """A held gate in front of ``target_port``; ``gate.open()`` lets traffic through."""
    gate = Gate(target_port)
    await gate.start()
    try:
        yield gate
    finally:
        await gate.close()
