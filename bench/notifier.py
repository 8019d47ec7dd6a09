"""Section: notifier deliveries per second to a local webhook sink, rate limits off.

The notifier runs in its own process with its signed-webhook channel pointed at a sink
in this process (a minimal HTTP/1.1 server answering 200 to every POST). ``deliveries``
pending webhook deliveries are inserted at once, as routing would have planned them;
the notifier's sender finds them on its next tick and sends them all. The webhook has no
per-minute limit (only the chat robots do), so nothing waits for a rate window.

The rate counts from the first request reaching the sink until every delivery is marked
sent in the database (with its attempt recorded and NotificationDelivered appended).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg

from bench.loadgen import content_length
from bench.measure import CpuMeter, RssSampler
from bench.report import figure
from bench.servers import Servers, fresh_database, fresh_namespace
from bench.service import ServiceProcess, service_process
from salesops.embedded import free_port

log = logging.getLogger(__name__)

GOAL_PER_SECOND = 2000
SECRET = "bench-webhook-secret-0123456789abcdef"
_OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


class _SinkConnection(asyncio.Protocol):
    def __init__(self, sink: WebhookSink) -> None:
        self._sink = sink
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end]).lower()
            length = content_length(head) or 0
            if len(self._buffer) < end + 4 + length:
                return
            del self._buffer[: end + 4 + length]
            self._sink.received(head.startswith(b"post"))
            assert self._transport is not None
            self._transport.write(_OK)


class WebhookSink:
    """Counts the POSTs it answers, and when the first and the last arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.posts = 0
        self.first: float | None = None
        self.last: float | None = None
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def received(self, post: bool) -> None:
        if post:
            now = time.perf_counter()
            self.posts += 1
            self.first = self.first or now
            self.last = now

    async def __aenter__(self) -> WebhookSink:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _SinkConnection(self), "127.0.0.1", self.port
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()


async def _insert_pending(dsn: str, count: int, url: str, start: int = 0) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO notifier.deliveries (delivery_id, event_id, event_type, person_id,
                channel, robot_key, recipient, message, urgent, status, next_attempt_at,
                created_at)
            SELECT 'dlv-bench-' || i, 'evt-bench-' || i, 'TicketTimedOut',
                   (ARRAY['rep-zhang-wei', 'rep-wang-fang', 'gl-li-na', 'te-luo-bin'])[1 + i % 4],
                   'webhook', $3,
                   jsonb_build_object('person_id', 'rep-zhang-wei', 'name', '张伟',
                                      'address', $3::text, 'mobile', null),
                   jsonb_build_object('title', '样品申请超时 tkt-' || i,
                                      'markdown', '### 样品申请超时\n技术答复已超时 5 分钟',
                                      'text', '样品申请超时：技术答复已超时 5 分钟',
                                      'html', '<p>样品申请超时</p>',
                                      'link', 'http://127.0.0.1:8080/tickets/tkt-' || i,
                                      'urgent', true),
                   true, 'pending', now(), now()
            FROM generate_series($1::int, $2::int) AS i
            """,
            start + 1,
            start + count,
            url,
        )
    finally:
        await conn.close()


async def _wait_sent(dsn: str, expected: int, within: float) -> tuple[int, float]:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + within
        while True:
            sent = int(
                await conn.fetchval(
                    "SELECT count(*) FROM notifier.deliveries WHERE status = 'sent'"
                )
            )
            if sent >= expected or time.monotonic() > deadline:
                return sent, time.perf_counter()
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def _outcomes(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM notifier.delivery_attempts) AS attempts,"
            " (SELECT count(*) FROM notifier.events"
            "  WHERE event_type = 'NotificationDelivered') AS delivered_events,"
            " (SELECT count(*) FROM notifier.deliveries WHERE status <> 'sent') AS not_sent"
        )
    finally:
        await conn.close()
    assert row is not None
    return {key: int(row[key]) for key in ("attempts", "delivered_events", "not_sent")}


async def measure_deliveries(
    dsn: str, service: ServiceProcess, sink: WebhookSink, *, deliveries: int
) -> dict[str, Any]:
    meter = CpuMeter.for_pids({"service": [service.pid]})
    async with RssSampler({"service": [service.pid]}) as rss:
        meter.start()
        inserted = time.perf_counter()
        await _insert_pending(dsn, deliveries, sink.url)
        sent, done = await _wait_sent(dsn, deliveries, within=max(30.0, deliveries / 100))
        cpu = meter.stop()
    first = sink.first or done
    per_second = sent / (done - first) if done > first else 0.0
    return {
        "deliveries": deliveries,
        "sent": sent,
        "sink_posts": sink.posts,
        "seconds_first_request_to_all_sent": round(done - first, 3),
        "seconds_insert_to_first_request": round(first - inserted, 3),
        "per_second": round(per_second, 1),
        **await _outcomes(dsn),
        "service_peak_rss_mb": rss.peak_mb()["service"],
        "cpu": cpu,
    }


async def run_notifier(servers: Servers, *, deliveries: int) -> dict[str, Any]:
    async with (
        WebhookSink() as sink,
        fresh_database(servers.admin_dsn) as dsn,
        fresh_namespace(servers.nats_url) as namespace,
        service_process(
            "notifier",
            dsn,
            servers.nats_url,
            namespace,
            env={
                "SALESOPS_NOTIFY_WEBHOOK_URL": sink.url,
                "SALESOPS_NOTIFY_WEBHOOK_SECRET": SECRET,
            },
        ) as service,
    ):
        log.info("notifier: %d webhook deliveries", deliveries)
        result = await measure_deliveries(dsn, service, sink, deliveries=deliveries)
    log.info("notifier: %.0f deliveries/s", result["per_second"])
    complete = result["sent"] == deliveries and result["delivered_events"] == deliveries
    return {
        **result,
        "figures": [
            figure(
                "notifier webhook deliveries/s",
                result["per_second"],
                "/s",
                at_least=GOAL_PER_SECOND,
                limit="transactions",
            ),
            figure("notifier deliveries sent and recorded", float(complete), "", equals=1),
            figure(
                "notifier peak RSS (deliveries)", result["service_peak_rss_mb"], "MB", below=200
            ),
        ],
    }
