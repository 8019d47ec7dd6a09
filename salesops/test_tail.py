"""``salesops events tail`` as a user runs it: a subprocess on the real NATS, stopped by Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from contracts.base import IntegrationEvent
from contracts.envelope import Envelope
from contracts.registry import EVENT_TYPES
from salesops.embedded import free_port, nats_server_binary
from salesops.jetstream import ensure_service_stream
from salesops.settings import REPO_ROOT
from salesops.tail import format_event, full_subject, subject_intersection
from salesops.testing.events import publish_envelope, publish_event

DECISION = EVENT_TYPES["DecisionStateChanged"].examples()[0]
SUBMITTED = EVENT_TYPES["TaskSubmitted"].examples()[0]


@dataclass
class RunningTail:
    process: asyncio.subprocess.Process
    ready: str

    async def line(self, seconds: float = 10) -> str:
        assert self.process.stdout is not None
        async with asyncio.timeout(seconds):
            raw = await self.process.stdout.readline()
        assert raw, "the tail ended before printing a line"
        return raw.decode().rstrip("\n")

    async def no_line(self, seconds: float = 0.5) -> None:
        with pytest.raises(TimeoutError):
            await self.line(seconds)


@dataclass
class Stopped:
    returncode: int
    stderr: str


@asynccontextmanager
async def tail(
    nats_url: str, namespace: str, *args: str, stopped: list[Stopped] | None = None
) -> AsyncIterator[RunningTail]:
    """Run the command until the block ends, then press Ctrl-C (SIGINT) and wait."""
    env = {
        **os.environ,
        "SALESOPS_NATS_URL": nats_url,
        "SALESOPS_NATS_NAMESPACE": namespace,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "salesops.cli",
        "events",
        "tail",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
    )
    assert process.stderr is not None
    try:
        # It says so once subscribed: what is published from then on must show up.
        async with asyncio.timeout(20):
            ready = (await process.stderr.readline()).decode()
        assert "Ctrl-C stops" in ready, ready
        yield RunningTail(process, ready)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            rest = await process.stderr.read()
            await process.wait()
    if stopped is not None:
        stopped.append(Stopped(process.returncode or 0, rest.decode()))


async def publish(
    js: JetStreamContext, namespace: str, event: IntegrationEvent, subject_id: str, actor: str
) -> Envelope:
    return await publish_event(js, namespace, event, subject_id=subject_id, actor=actor)


@pytest.fixture
async def streams(js: JetStreamContext, namespace: str) -> None:
    """The streams the customers and tasks services would have created."""
    for service in ("customers", "tasks"):
        await ensure_service_stream(js, service, namespace)


@pytest.mark.integration
@pytest.mark.usefixtures("streams")
async def test_tail_prints_one_line_per_event_from_now_on_and_stops_on_ctrl_c(
    nats_url: str, nats_client: NatsClient, js: JetStreamContext, namespace: str
) -> None:
    await publish(js, namespace, DECISION, "cus-before", "p-rep-li-na")
    stopped: list[Stopped] = []
    async with tail(nats_url, namespace, stopped=stopped) as running:
        assert f"{namespace}.sales.> on {nats_url}, from now on" in running.ready
        decision = await publish(js, namespace, DECISION, "cus-0042", "p-rep-li-na")
        submitted = await publish(js, namespace, SUBMITTED, "task-7781", "p-rep-wang")
        # Another namespace (another test run) is not ours to show.
        await nats_client.publish(f"{namespace}x.sales.customers.decision_state_changed", b"{}")
        first, second = await running.line(), await running.line()
        await running.no_line()

    assert first.split("  ") == [
        decision.time.isoformat().replace("+00:00", "Z"),
        "DecisionStateChanged",
        "cus-0042",
        "p-rep-li-na",
        json.dumps(decision.data, ensure_ascii=False, separators=(",", ":")),
    ]
    assert second.split("  ")[1:4] == ["TaskSubmitted", "task-7781", "p-rep-wang"]
    assert json.loads(second.split("  ")[4]) == submitted.data
    assert "cus-before" not in first + second  # published before it started
    (result,) = stopped
    assert result.returncode == 0, result.stderr
    assert "stopped after 2 event(s)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
@pytest.mark.usefixtures("streams")
async def test_tail_json_prints_whole_envelopes_of_the_subject_given(
    nats_url: str, js: JetStreamContext, namespace: str
) -> None:
    async with tail(nats_url, namespace, "sales.tasks.>", "--json") as running:
        # Published first on the same connection, so it would arrive first if subscribed.
        await publish(js, namespace, DECISION, "cus-0042", "p-rep-li-na")
        submitted = await publish(js, namespace, SUBMITTED, "task-7781", "p-rep-li-na")
        line = await running.line()
        await running.no_line()
    assert json.loads(line) == json.loads(submitted.to_json_bytes())
    assert json.loads(line)["type"] == f"{namespace}.sales.tasks.task_submitted"


@pytest.mark.integration
@pytest.mark.usefixtures("streams")
async def test_tail_from_start_replays_the_streams_then_follows(
    nats_url: str, js: JetStreamContext, namespace: str
) -> None:
    old_decision = await publish(js, namespace, DECISION, "cus-old", "p-rep-li-na")
    old_task = await publish(js, namespace, SUBMITTED, "task-old", "p-rep-li-na")
    stopped: list[Stopped] = []
    async with tail(nats_url, namespace, "--from-start", stopped=stopped) as running:
        assert "streams from the start" in running.ready
        replayed = {await running.line(), await running.line()}
        new = await publish(js, namespace, DECISION, "cus-new", "p-rep-li-na")
        followed = await running.line()
    assert {line.split("  ")[2] for line in replayed} == {old_decision.subject, old_task.subject}
    assert followed.split("  ")[2] == new.subject == "cus-new"
    assert stopped[0].returncode == 0, stopped[0].stderr


@pytest.mark.integration
@pytest.mark.usefixtures("streams")
async def test_tail_survives_a_message_that_is_not_an_envelope(
    nats_url: str, js: JetStreamContext, namespace: str
) -> None:
    envelope = Envelope.for_event(
        DECISION,
        event_id="0b5e6c1e-2f0a-4a59-9a43-6f1b2a7d9c10",
        subject_id="cus-0042",
        time=datetime(2026, 3, 2, 1, 30, tzinfo=UTC),
        actor="p-rep-li-na",
        stream_version=1,
        correlation_id="c-1",
        namespace=namespace,
    )
    async with tail(nats_url, namespace) as running:
        await js.publish(f"{namespace}.sales.customers.garbage", b"\xff not json")
        await publish_envelope(js, envelope)
        garbage, good = await running.line(), await running.line()
    assert garbage == f"{namespace}.sales.customers.garbage  (not a CloudEvents envelope: 10 bytes)"
    assert good.startswith("2026-03-02T01:30:00Z  DecisionStateChanged  cus-0042  p-rep-li-na  ")


@pytest.fixture
def nats_with_a_password() -> Iterator[str]:
    """A server of this test's own whose only user is `reader` (no JetStream needed live)."""
    port = free_port()
    command = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        [*command, "--user", "reader", "--pass", "reader-secret"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            assert server.poll() is None, "nats-server exited"
            assert time.monotonic() < deadline, "nats-server does not listen"
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.integration
async def test_tail_logs_in_with_the_nats_user_and_password_settings(
    nats_with_a_password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = nats_with_a_password
    monkeypatch.setenv("SALESOPS_NATS_USER", "reader")
    monkeypatch.setenv("SALESOPS_NATS_PASSWORD", "reader-secret")
    async with tail(url, "") as running:
        publisher = await nats.connect(url, user="reader", password="reader-secret")
        try:
            await publisher.publish("sales.customers.customer_went_stale", b'{"actor": "system"}')
        finally:
            await publisher.close()
        assert (await running.line()).split("  ")[1:4] == ["CustomerWentStale", "?", "system"]

    monkeypatch.setenv("SALESOPS_NATS_PASSWORD", "wrong")
    refused = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "salesops.cli",
        "events",
        "tail",
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SALESOPS_NATS_URL": url},
    )
    _, stderr = await refused.communicate()
    assert refused.returncode == 1
    # Refused at once (a retry with the same password cannot succeed), saying why.
    assert f"cannot reach NATS at {url}" in stderr.decode()
    assert "Authorization Violation" in stderr.decode()
    assert "wrong" not in stderr.decode()  # the password is never printed


def test_tail_refuses_a_malformed_namespace_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "salesops.cli", "events", "tail"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "SALESOPS_NATS_NAMESPACE": "two words"},
        check=False,
    )
    assert result.returncode == 2
    assert "SALESOPS_NATS_NAMESPACE = 'two words'" in result.stderr


# --- the parts, without NATS ----------------------------------------------------------


def test_the_default_subject_is_every_event_under_the_namespace() -> None:
    assert full_subject(None, "") == "sales.>"
    assert full_subject(None, "t1.n2") == "t1.n2.sales.>"
    assert full_subject("sales.tasks.*", "t1") == "t1.sales.tasks.*"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("sales.>", "sales.customers.>", "sales.customers.>"),
        ("sales.customers.>", "sales.>", "sales.customers.>"),
        ("sales.>", "sales.>", "sales.>"),
        (
            "sales.*.ticket_timed_out",
            "sales.collaboration.>",
            "sales.collaboration.ticket_timed_out",
        ),
        ("sales.tasks.>", "sales.customers.>", None),
        ("t1.sales.>", "t2.sales.customers.>", None),
        ("sales.customers.*", "sales.customers.a.b", None),
        ("sales.customers.*", "sales.*.x", "sales.customers.x"),
        ("sales.>", "$KV.bucket.>", None),
    ],
)
def test_subject_intersection(a: str, b: str, expected: str | None) -> None:
    assert subject_intersection(a, b) == expected


def test_a_dead_letter_is_marked_with_its_consumer_and_error() -> None:
    body = json.dumps(
        {
            "time": "t",
            "type": "sales.customers.decision_state_changed",
            "subject": "c",
            "actor": "a",
            "data": {"x": 1},
        }
    ).encode()
    line = format_event(
        "sales.dlq.notifier.on_decision",
        body,
        {"Salesops-Consumer": "on_decision", "Salesops-Error": "KeyError: 'x'"},
        as_json=False,
    )
    assert line == (
        "t  DEAD LETTER of on_decision (KeyError: 'x')  DecisionStateChanged  c  a  {\"x\":1}"
    )


def test_an_unknown_event_type_is_shown_by_its_subject() -> None:
    body = b'{"type": "sales.customers.something_new", "data": {}}'
    assert format_event("s", body, None, as_json=False) == (
        "?  sales.customers.something_new  ?  ?  {}"
    )
