"""Services for the fault tests: in-process replicas, and real processes a test can SIGKILL.

``running_service`` (salesops.testing.apps) drops its schema when it stops, which suits one
service per test. A fault test restarts a service on the same schema, or runs two replicas
of it side by side, so the replicas here leave the schema alone and the test drops it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from nats.js import JetStreamContext

from contracts.envelope import Envelope
from contracts.registry import EVENT_TYPES
from contracts.subjects import stream_name_for
from salesops.chassis import create_service_app
from salesops.clock import ManualClock
from salesops.db import quote_ident
from salesops.embedded import free_port
from salesops.runtime import ServiceDefinition
from salesops.settings import REPO_ROOT, ServiceSettings
from salesops.testing.apps import RunningService
from salesops.testing.waiting import eventually


@dataclass(frozen=True)
class Servers:
    """Where a test's services run: a database, NATS and the test's namespace on it."""

    database_url: str
    nats_url: str
    namespace: str


@contextlib.asynccontextmanager
async def replica(
    definition: ServiceDefinition,
    servers: Servers,
    *,
    schema: str,
    clock: ManualClock,
    poll_timers: bool = False,
    **settings: Any,
) -> AsyncIterator[RunningService]:
    """One replica of the service in this process, on ``schema``; the schema outlives it."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"salesops-faults-{definition.name}-"))
    config = ServiceSettings(
        database_url=servers.database_url,
        nats_url=servers.nats_url,
        nats_namespace=servers.namespace,
        db_schema=schema,
        data_dir=data_dir,
        **settings,
    )
    app = create_service_app(definition, config, clock=clock, poll_timers=poll_timers)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://test",
            ) as client,
        ):
            yield RunningService(app, client, clock)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


class ServiceProcess:
    """``salesops serve <service>`` as a real process (its own session), SIGKILL-able."""

    def __init__(self, service: str, env: Mapping[str, str], log: Path) -> None:
        self.service = service
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("SALESOPS_")}
        self._env = {
            **inherited,
            "SALESOPS_HTTP_HOST": "127.0.0.1",
            "SALESOPS_HTTP_PORT": str(self.port),
            "SALESOPS_LOG_LEVEL": "WARNING",
            **env,
        }
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "salesops.cli", "serve", self.service],
                env=self._env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def ready(self, seconds: float = 30) -> None:
        """Until ``/readyz`` answers 200 (the runtime is up: consumers, relay, timers)."""

        async def answers() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"{self.service} exited: {self.output()}")
            try:
                async with httpx.AsyncClient(timeout=1) as client:
                    response = await client.get(f"{self.base_url}/readyz")
            except httpx.HTTPError:
                return False
            return response.status_code == 200

        await eventually(answers, seconds)

    def kill(self) -> int:
        """SIGKILL: no shutdown hook runs, whatever was in hand is simply gone."""
        return self._end(signal.SIGKILL)

    def stop(self) -> int:
        return self._end(signal.SIGTERM)

    def _end(self, how: signal.Signals) -> int:
        process, self._process = self._process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(how)
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=15)

    def output(self) -> str:
        return self._log.read_text(errors="replace")[-4000:]


def published_event_ids(rows: list[asyncpg.Record]) -> list[str]:
    """The ids of the stored events that are part of the published language (the outbox's)."""
    return [str(r["event_id"]) for r in rows if r["event_type"] in EVENT_TYPES]


async def stored_events(database_url: str, schema: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(
            await conn.fetch(
                f"SELECT event_id, event_type FROM {quote_ident(schema)}.events ORDER BY position"
            )
        )
    finally:
        await conn.close()


async def outbox_size(database_url: str, schema: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(f"SELECT count(*) FROM {quote_ident(schema)}.outbox")
        return count
    finally:
        await conn.close()


async def outbox_empty(database_url: str, schema: str) -> bool:
    """Whether the relay has published everything the service's outbox held."""
    return await outbox_size(database_url, schema) == 0


async def stream_envelopes(js: JetStreamContext, service: str, namespace: str) -> list[Envelope]:
    """Every message stored in the service's stream, in stream order.

    Read message by message from the stream's leader, which needs no consumer: on a
    cluster that just lost a node, creating one waits for the meta leader's election.
    """
    stream = stream_name_for(service, namespace)
    state = (await js.stream_info(stream)).state
    envelopes: list[Envelope] = []
    for sequence in range(state.first_seq, state.last_seq + 1):
        message = await js.get_msg(stream, sequence)
        envelopes.append(Envelope.model_validate_json(message.data or b""))
    return envelopes


async def stream_event_ids(js: JetStreamContext, service: str, namespace: str) -> list[str]:
    """The event id of every message stored in the service's stream."""
    return [envelope.id for envelope in await stream_envelopes(js, service, namespace)]


async def stored_and_streamed(
    database_url: str, schema: str, js: JetStreamContext, service: str, namespace: str
) -> tuple[list[str], list[str]]:
    """The ids of the published events the service stored (in ``schema``), and the ids of
    the messages in its stream: the same ones, each once, when nothing was lost or doubled."""
    stored = published_event_ids(await stored_events(database_url, schema))
    return stored, await stream_event_ids(js, service, namespace)


async def consumer_state(
    js: JetStreamContext, source: str, namespace: str, consumer: str
) -> dict[str, int]:
    """Where a durable consumer stands against its stream (sequences and counts)."""
    stream = stream_name_for(source, namespace)
    stream_info = await js.stream_info(stream)
    info = await js.consumer_info(stream, consumer)
    return {
        "stream_last_seq": stream_info.state.last_seq,
        "delivered_stream_seq": info.delivered.stream_seq or 0,
        # Counts every delivery, redeliveries included: equal to the stream's sequence only
        # when no message was handed out twice.
        "deliveries": info.delivered.consumer_seq or 0,
        "acked_stream_seq": info.ack_floor.stream_seq or 0,
        "pending": info.num_pending or 0,
        "ack_pending": info.num_ack_pending or 0,
    }


async def caught_up(js: JetStreamContext, source: str, namespace: str, consumer: str) -> bool:
    """Whether the consumer acknowledged every message of its stream."""
    state = await consumer_state(js, source, namespace, consumer)
    return state["acked_stream_seq"] == state["stream_last_seq"] and not state["ack_pending"]
