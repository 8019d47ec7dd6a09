"""A cheap HTTP/1.1 load generator: keep-alive connections on asyncio protocols.

The load generator runs on the same two cores as the service and PostgreSQL, so every
CPU-millisecond it spends is one the service does not get. httpx costs about 1.2 CPU-ms a
request here; this client writes a prepared request head and parses only the status line
and the body's length (Content-Length or chunked), about a tenth of that. It speaks only
to our own uvicorn services and the benchmark's sinks, nothing else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

#: A keep-alive connection idle longer than this is replaced (uvicorn's timeout is 5 s).
IDLE_REUSE_SECONDS = 3.0


class HttpError(Exception):
    """The connection failed or the response could not be read."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(HttpError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._complete()

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        assert self._waiter is None
        waiter: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.transport.write(request)
        return waiter

    def _complete(self) -> None:
        waiter = self._waiter
        if waiter is None:
            return
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        start = end + 4
        length = content_length(head)
        if length is not None:
            if len(buffer) < start + length:
                return
            body = bytes(buffer[start : start + length])
            del buffer[: start + length]
        elif b"\r\ntransfer-encoding: chunked" in head:
            parsed = _chunked(buffer, start)
            if parsed is None:
                return
            body, consumed = parsed
            del buffer[:consumed]
        else:  # no body (204, 304) as far as our services are concerned
            body = b""
            del buffer[:start]
        self._waiter = None
        try:
            status = int(head[9:12])
        except ValueError:
            waiter.set_exception(HttpError(f"not an HTTP response: {head[:80]!r}"))
            return
        waiter.set_result((status, body))


def content_length(head: bytes) -> int | None:
    """The Content-Length of a lower-cased message head, or None when it has none."""
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        return None
    end = head.find(b"\r\n", at + 2)
    return int(head[at + 17 : end if end >= 0 else len(head)])


def _chunked(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """The body of a complete chunked message starting at ``start``, and where it ends."""
    chunks: list[bytes] = []
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n", at)
            return (b"".join(chunks), trailer_end + 2) if trailer_end >= 0 else None
        if len(buffer) < at + size + 2:
            return None
        chunks.append(bytes(buffer[at : at + size]))
        at += size + 2


@dataclass
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class HttpClient:
    """One keep-alive connection to ``host:port`` with fixed headers (the bearer token)."""

    host: str
    port: int
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    _connection: _Connection | None = None
    _fixed: bytes = b""
    _used: float = 0.0

    @classmethod
    def for_url(cls, base_url: str, token: str | None = None) -> HttpClient:
        host, _, port = base_url.removeprefix("http://").rstrip("/").partition(":")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return cls(host, int(port or 80), headers)

    def __post_init__(self) -> None:
        lines = [f"Host: {self.host}:{self.port}", *(f"{k}: {v}" for k, v in self.headers.items())]
        self._fixed = ("\r\n".join(lines) + "\r\n").encode("latin-1")

    async def _connect(self) -> _Connection:
        # uvicorn closes a connection idle for 5 s; one idle nearly that long is replaced
        # rather than raced (a request written as the server closes it would be lost).
        if self._connection is not None and time.monotonic() - self._used > IDLE_REUSE_SECONDS:
            self.close()
        if self._connection is None or self._connection.closed:
            loop = asyncio.get_running_loop()
            _, protocol = await loop.create_connection(_Connection, self.host, self.port)
            self._connection = protocol
        self._used = time.monotonic()
        return self._connection

    async def request(self, method: str, path: str, json: Any = None) -> Response:
        """Send one request; the response's status and body."""
        body = b"" if json is None else orjson.dumps(json)
        head = f"{method} {path} HTTP/1.1\r\n".encode("latin-1") + self._fixed
        if json is not None:
            head += b"Content-Type: application/json\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1")
        try:
            async with asyncio.timeout(self.timeout):
                connection = await self._connect()
                status, payload = await connection.send(head + body)
        except (TimeoutError, HttpError):
            self.close()
            raise
        return Response(status, payload)

    async def get(self, path: str) -> Response:
        return await self.request("GET", path)

    async def post(self, path: str, json: Any = None) -> Response:
        return await self.request("POST", path, json)

    async def put(self, path: str, json: Any = None) -> Response:
        return await self.request("PUT", path, json)

    def close(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._connection = None


#: An open-loop operation: ``index`` -> whether it succeeded.
Scheduled = Callable[[int], Awaitable[bool]]


@dataclass
class OpenLoopResult:
    """What a fixed-rate run produced."""

    count: int
    rate: float
    elapsed: float
    latencies: list[float]
    errors: int
    #: How far behind schedule requests went out (the generator or the service fell behind).
    max_start_delay: float

    #: When the last operation started, from the first start: the schedule actually kept.
    started_over: float = 0.0

    @property
    def achieved_per_second(self) -> float:
        """Operations started per second (the last one's start closes the interval)."""
        span = self.started_over + 1 / self.rate
        return self.count / span if span > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        from bench.measure import latency_summary

        return {
            "commands": self.count,
            "target_per_second": self.rate,
            "achieved_per_second": round(self.achieved_per_second, 1),
            "seconds": round(self.elapsed, 3),
            "max_start_delay_ms": round(self.max_start_delay * 1000, 1),
            "errors": self.errors,
            "http_latency": latency_summary(self.latencies),
        }


async def open_loop(operation: Scheduled, *, count: int, rate: float, lanes: int) -> OpenLoopResult:
    """Start operation ``i`` at ``i / rate`` seconds, on ``lanes`` lanes (a connection each).

    Lane ``k`` runs operations ``k, k + lanes, ...``; one that is still busy when its next
    start comes starts it late (recorded as ``max_start_delay``), so with enough lanes the
    rate holds whatever the latency.
    """
    began = time.perf_counter()
    latencies: list[float] = []
    errors = 0
    max_delay = 0.0
    last_start = began

    async def lane(number: int) -> None:
        nonlocal errors, max_delay, last_start
        for index in range(number, count, lanes):
            due = began + index / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                max_delay = max(max_delay, -wait)
            start = time.perf_counter()
            last_start = max(last_start, start)
            ok = await operation(index)
            latencies.append(time.perf_counter() - start)
            errors += not ok

    await asyncio.gather(*(lane(number) for number in range(min(lanes, count))))
    return OpenLoopResult(
        count,
        rate,
        time.perf_counter() - began,
        latencies,
        errors,
        max_start_delay=max_delay,
        started_over=last_start - began,
    )
