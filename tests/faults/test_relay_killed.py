"""Fault: the relay killed (SIGKILL) between publishing a batch and marking it published.

The messages are in the stream, the outbox rows still there; the relay that takes over
publishes the batch again with the same ``Nats-Msg-Id`` and JetStream drops every copy:
the stream holds each event once, and no sequence number went to a duplicate.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from nats.js import JetStreamContext

from contracts.customers import DecisionStateChanged
from salesops.eventstore import EventMetadata, EventStore
from salesops.jetstream import ensure_service_stream
from salesops.outbox import OutboxRelay
from salesops.settings import REPO_ROOT
from salesops.testing.waiting import eventually

from .services import stream_event_ids

pytestmark = pytest.mark.integration

EVENTS = 200
VICTIM = Path(__file__).with_name("relay_victim.py")


async def test_a_relay_killed_after_publishing_and_before_marking_publishes_nothing_twice(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    database_url: str,
    nats_url: str,
    schema: str,
    namespace: str,
) -> None:
    stream = await ensure_service_stream(js, "customers", namespace)
    store = EventStore(pool)
    event = DecisionStateChanged.examples()[0]
    stored: list[str] = []
    for i in range(EVENTS):
        recorded = await store.append(
            f"cus-{i}", [event], expected_version=0, metadata=EventMetadata(actor="rep-1")
        )
        stored += [str(r.event_id) for r in recorded]

    victim = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(VICTIM), database_url, schema, nats_url, namespace],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert victim.returncode == -signal.SIGKILL, victim.stderr.decode()[-2000:]
    # Killed in the window: every message published, none marked.
    assert await pool.fetchval("SELECT count(*) FROM outbox") == EVENTS
    assert (await js.stream_info(stream)).state.messages == EVENTS

    relay = OutboxRelay(
        pool, js, service="customers", schema=schema, namespace=namespace, idle_interval=0.01
    )
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))

    async def outbox_empty() -> bool:
        return not await pool.fetchval("SELECT count(*) FROM outbox")

    try:
        await eventually(outbox_empty, 20)
    finally:
        stop.set()
        await relaying

    assert relay.published_total == EVENTS  # the whole batch went out a second time...
    state = (await js.stream_info(stream)).state
    # ...and JetStream dropped every copy: no message, no sequence number was added.
    assert (state.messages, state.last_seq) == (EVENTS, EVENTS)
    in_stream = await stream_event_ids(js, "customers", namespace)
    assert sorted(in_stream) == sorted(stored)
