"""The NATS users of deploy/nats/authorization.conf, on a real nats-server.

Each test starts its own nats-server from the shipped configuration (only the ports, the
JetStream folder and the include path changed, see :func:`_test_config`), so the
subjects are the production ones: no namespace, which that file does not allow for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.finance import InvoiceIssued
from salesops.clock import ManualClock
from salesops.consumers import Durable
from salesops.embedded import free_port, nats_server_binary
from salesops.jetstream import connect_nats, ensure_dead_letter_stream, ensure_service_stream
from salesops.testing.apps import RunningService, every_service, running_service
from salesops.testing.commands import plan_task, submit_ticket
from salesops.testing.events import publish_customer_registered, publish_event
from salesops.testing.waiting import eventually

pytestmark = pytest.mark.integration

NATS_DIR = Path(__file__).resolve().parents[1] / "deploy" / "nats"
SERVICES = every_service()
USERS = (*SERVICES, "finance", "subscriber")
#: Whose events each user may publish (metrics publishes none).
PUBLISHES = {"customers", "tasks", "collaboration", "notifier", "finance"}
#: The sources each service consumes, as the services' code subscribes them.
SOURCES = {
    "customers": (),
    "tasks": ("customers",),
    "collaboration": ("customers",),
    "notifier": ("customers", "tasks", "collaboration"),
    "metrics": ("customers", "tasks", "collaboration", "finance"),
}
#: What the services and finance are told to use (deploy/nats/authorization.conf).
INBOX = {user: f"_INBOX_{user}" for user in (*SERVICES, "finance")}
REP = "rep-zhang-wei"


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class SecuredNats:
    url: str
    monitor_url: str
    passwords: Mapping[str, str]


def _test_config(folder: Path, port: int, monitor_port: int) -> Path:
    """nats-server.conf as shipped, on free loopback ports with JetStream in ``folder``."""
    text = (NATS_DIR / "nats-server.conf").read_text()
    authorization = os.path.relpath(NATS_DIR / "authorization.conf", folder)
    # nats-server joins an include to the including file's folder even when absolute.
    for shipped, ours in (
        ("port: 4222", f"port: {port}"),
        ("http_port: 8222", f"http_port: {monitor_port}"),
        ('store_dir: "/data"', f'store_dir: "{folder / "jetstream"}"'),
        ('include "authorization.conf"', f'include "{authorization}"'),
    ):
        assert text.count(shipped) == 1, f"nats-server.conf no longer has {shipped!r} once"
        text = text.replace(shipped, ours)
    config = folder / "nats-server.conf"
    config.write_text(f'{text}\nhost: "127.0.0.1"\n')
    return config


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[SecuredNats]:
    # Passwords of the kind the config's comment asks for: a letter, then hex.
    passwords = {user: f"p{secrets.token_hex(16)}" for user in USERS}
    port, monitor_port = free_port(), free_port()
    env = {**os.environ}
    env.update({f"SALESOPS_NATS_{user.upper()}_PASSWORD": pw for user, pw in passwords.items()})
    process = subprocess.Popen(
        [nats_server_binary(), "-c", str(_test_config(tmp_path, port, monitor_port))],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    monitor_url = f"http://127.0.0.1:{monitor_port}"
    try:
        # What compose's healthcheck asks: monitoring needs no user, JetStream is up.
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                assert process.stderr is not None
                pytest.fail(f"nats-server exited: {process.stderr.read().decode()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{monitor_url}/healthz?js-enabled-only=true").status_code == 200:
                    break
            assert time.monotonic() < deadline, "nats-server did not become healthy"
            time.sleep(0.05)
        yield SecuredNats(f"nats://127.0.0.1:{port}", monitor_url, passwords)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- logging in


@dataclass
class Login:
    """A connection as one user that remembers what the server refused it."""

    user: str
    nc: NatsClient = field(init=False)
    refusals: list[str] = field(default_factory=list)
    _reported: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_error(self, exc: Exception) -> None:
        self.refusals.append(str(exc).lower())
        self._reported.set()

    async def refused(self, operation: str, subject: str, seconds: float = 5) -> None:
        """Wait until the server refuses ``publish`` or ``subscription`` on ``subject``."""
        expected = f'permissions violation for {operation} to "{subject.lower()}"'
        async with asyncio.timeout(seconds):
            while not any(expected in refusal for refusal in self.refusals):
                self._reported.clear()
                await self._reported.wait()

    async def refused_publish(self, subject: str) -> None:
        await self.nc.publish(subject, b"{}")
        await self.nc.flush()
        await self.refused("publish", subject)


@contextlib.asynccontextmanager
async def logged_in(server: SecuredNats, user: str) -> AsyncIterator[Login]:
    """``user`` connected the way the services connect (connect_nats, its inbox prefix)."""
    login = Login(user)
    options: dict[str, Any] = {"inbox_prefix": INBOX[user]} if user in INBOX else {}
    login.nc = await connect_nats(
        server.url,
        name=f"test-{user}",
        user=user,
        password=server.passwords[user],
        error_cb=login.on_error,
        **options,
    )
    try:
        yield login
    finally:
        await login.nc.close()


async def _streams_as_their_owners(server: SecuredNats) -> None:
    """Each publisher's stream, made with its own user, and SALES_DLQ."""
    for user in PUBLISHES:
        async with logged_in(server, user) as owner:
            await ensure_service_stream(owner.nc.jetstream(), user)
    async with logged_in(server, "customers") as customers:
        await ensure_dead_letter_stream(customers.nc.jetstream())


# --------------------------------------------------------------------------- (a) real work


@contextlib.asynccontextmanager
async def all_services(
    server: SecuredNats, database_url: str, schema: str, clock: ManualClock
) -> AsyncIterator[dict[str, RunningService]]:
    async with contextlib.AsyncExitStack() as stack:
        running: dict[str, RunningService] = {}
        # Publishers first, metrics last: it creates SALES_FINANCE (nobody else runs) and
        # updates the streams the others made, so both ways of _ensure are exercised.
        for name, definition in SERVICES.items():
            running[name] = await stack.enter_async_context(
                running_service(
                    definition,
                    database_url=database_url,
                    nats_url=server.url,
                    namespace="",
                    schema=f"{schema}_{name}",
                    clock=clock,
                    nats_user=name,
                    nats_password=server.passwords[name],
                )
            )
        yield running


async def _processed(service: RunningService) -> dict[str, int]:
    rows = await service.runtime.pool.fetch(
        "SELECT consumer, count(*) AS n FROM processed_events GROUP BY consumer"
    )
    return {row["consumer"]: row["n"] for row in rows}


def _nats_refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Permission errors nats-py reported to the services (its default error callback logs)."""
    return [
        str(record.exc_info[1])
        for record in caplog.records
        if record.exc_info and "permissions violation" in str(record.exc_info[1]).lower()
    ]


async def test_each_service_user_does_its_real_work_and_events_flow_between_the_services(
    secured_nats: SecuredNats,
    database_url: str,
    schema: str,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = secured_nats
    async with all_services(server, database_url, schema, clock) as running:
        customers = running["customers"]
        tasks, collaboration = running["tasks"], running["collaboration"]

        # customers: a command, its relay publishing through JetStream with its user.
        created = await customers.client.post(
            "/customers",
            json={"name": "宁波精密模具", "tier": "A", "estimated_contribution": "1200000.00"},
            headers=customers.auth(REP),
        )
        assert created.status_code == 201, created.text
        customer_id = created.json()["customer_id"]

        async def known_to(service: RunningService) -> bool:
            return bool(
                await service.runtime.pool.fetchval(
                    "SELECT count(*) FROM known_customers WHERE customer_id = $1", customer_id
                )
            )

        await eventually(lambda: known_to(tasks))
        await eventually(lambda: known_to(collaboration))

        # tasks and collaboration publish their own events on that customer.
        at = clock.now() + timedelta(hours=2)
        planned = await plan_task(tasks, customer_id, who=REP, at=at, title="拜访")
        assert planned.status_code == 201, planned.text
        ticket = await submit_ticket(
            collaboration, customer_id, who=REP, quantity=2, note="客户周五要"
        )
        assert ticket.status_code == 201, ticket.text

        # An outside finance system publishes a finance fact with its own user.
        async with logged_in(server, "finance") as finance:
            await publish_event(
                finance.nc.jetstream(),
                "",
                InvoiceIssued(
                    invoice_id="inv-1",
                    customer_id=customer_id,
                    amount=Decimal("480000.00"),
                    issued_at=datetime(2026, 3, 2, tzinfo=UTC),
                    due_at=datetime(2026, 4, 1, tzinfo=UTC),
                ),
                subject_id="inv-1",
            )
            assert not finance.refusals

        expected = {
            "tasks": {"tasks_customer_facts"},
            "collaboration": {"collaboration_customer_facts"},
            "notifier": {f"notifier_fan_out_{s}" for s in SOURCES["notifier"]},
            "metrics": {f"metrics_facts_{s}" for s in SOURCES["metrics"]},
        }
        for name, consumers in expected.items():
            service = running[name]

            async def handled_by_all(
                service: RunningService = service, consumers: set[str] = consumers
            ) -> bool:
                return set(await _processed(service)) >= consumers

            await eventually(handled_by_all)
            assert {d.consumer for d in service.runtime.consumers.durables()} == consumers

        # Every durable consumer acked what it handled (acks need $JS.ACK permission).
        for service in running.values():
            for durable in service.runtime.consumers.durables():

                async def settled(service: RunningService = service, d: Durable = durable) -> bool:
                    info = await service.runtime.js.consumer_info(d.stream, d.consumer)
                    return bool(info.num_pending == 0 and info.num_ack_pending == 0)

                await eventually(settled)

        # Dead letters: a message no consumer can read goes to sales.dlq.<service>.<name>,
        # published by each consumer's service with its own user.
        await customers.runtime.js.publish("sales.customers.not_an_event", b"not json")
        async with logged_in(server, "subscriber") as subscriber:
            sjs = subscriber.nc.jetstream()
            wanted = {
                d.dead_letter_subject
                for service in running.values()
                for d in service.runtime.consumers.durables()
                if d.stream == "SALES_CUSTOMERS"
            }
            assert wanted == {
                "sales.dlq.tasks.customer_facts",
                "sales.dlq.collaboration.customer_facts",
                "sales.dlq.notifier.fan_out_customers",
                "sales.dlq.metrics.facts_customers",
            }

            async def dead_lettered() -> bool:
                info = await sjs.stream_info("SALES_DLQ", subjects_filter="sales.dlq.>")
                return set(info.state.subjects or {}) == wanted

            await eventually(dead_lettered)

            # No outside reader may pull from (and so take messages away from), inspect,
            # recreate, delete or ack any consumer of any service.
            for service in running.values():
                for d in service.runtime.consumers.durables():
                    for verb in ("INFO", "CREATE", "DELETE", "MSG.NEXT", "DURABLE.CREATE"):
                        await subscriber.refused_publish(
                            f"$JS.API.CONSUMER.{verb}.{d.stream}.{d.consumer}"
                        )
                    await subscriber.refused_publish(
                        f"$JS.API.CONSUMER.CREATE.{d.stream}.{d.consumer}.sales.>"
                    )
                    await subscriber.refused_publish(f"$JS.ACK.{d.stream}.{d.consumer}.1.1.1.0.0")

        # Nothing the services did was refused, and the passwords show nowhere.
        assert _nats_refusals(caplog) == []
        for name, service in running.items():
            password = server.passwords[name]
            ready = await service.client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert password not in ready.text
            assert password not in repr(service.runtime.settings)
            assert service.runtime.settings.nats_user == name
        assert not any(pw in caplog.text for pw in server.passwords.values())


# --------------------------------------------------------------------------- (b) services


REFUSED_PUBLISH = [
    ("tasks", "sales.customers.customer_registered"),
    ("tasks", "sales.collaboration.ticket_submitted"),
    ("tasks", "sales.dlq.notifier.fan_out_tasks"),
    ("customers", "sales.tasks.task_planned"),
    ("customers", "sales.finance.invoice_issued"),
    ("collaboration", "sales.customers.customer_registered"),
    ("notifier", "sales.customers.customer_registered"),
    ("notifier", "sales.finance.payment_received"),
    ("metrics", "sales.metrics.anything"),
    ("metrics", "sales.customers.customer_registered"),
    ("finance", "sales.customers.customer_registered"),
    ("finance", "sales.dlq.metrics.facts_finance"),
]


@pytest.mark.parametrize(("user", "subject"), REFUSED_PUBLISH)
async def test_a_user_cannot_publish_events_of_another_service(
    secured_nats: SecuredNats, user: str, subject: str
) -> None:
    await _streams_as_their_owners(secured_nats)
    owner = subject.split(".")[1]  # the service, or "dlq"
    async with logged_in(secured_nats, user) as login:
        js = login.nc.jetstream()
        before = await _last_seq(secured_nats, owner)
        # The JetStream publish gets no acknowledgement: the server dropped the message.
        with pytest.raises(nats.errors.TimeoutError):
            await js.publish(subject, b"{}", timeout=0.5)
        await login.refused("publish", subject)
        assert await _last_seq(secured_nats, owner) == before
        # ...while its own subjects, on the same connection, are acknowledged.
        if user in PUBLISHES:
            ack = await js.publish(f"sales.{user}.permission_checked", b"{}", timeout=5)
            assert ack.stream == f"SALES_{user.upper()}"


async def _last_seq(server: SecuredNats, owner: str) -> int | None:
    """The last sequence of the stream of ``sales.<owner>.>``, looked up as its owner."""
    if owner == "dlq":
        owner = "customers"  # any service may look SALES_DLQ up
        stream = "SALES_DLQ"
    elif owner in PUBLISHES:
        stream = f"SALES_{owner.upper()}"
    else:
        return None  # metrics has no stream
    async with logged_in(server, owner) as login:
        info = await login.nc.jetstream().stream_info(stream)
        last: int = info.state.last_seq
        return last


async def test_a_service_cannot_touch_other_streams_consumers_or_inboxes(
    secured_nats: SecuredNats,
) -> None:
    await _streams_as_their_owners(secured_nats)
    async with logged_in(secured_nats, "tasks") as tasks:
        for subject in (
            "$JS.API.STREAM.DELETE.SALES_CUSTOMERS",
            "$JS.API.STREAM.PURGE.SALES_TASKS",  # not even its own
            "$JS.API.STREAM.CREATE.SALES_NOTIFIER",
            "$JS.API.STREAM.UPDATE.SALES_COLLABORATION",  # a stream it does not consume
            "$JS.API.STREAM.MSG.DELETE.SALES_CUSTOMERS",
            "$JS.API.CONSUMER.INFO.SALES_CUSTOMERS.notifier_fan_out_customers",
            "$JS.API.CONSUMER.MSG.NEXT.SALES_CUSTOMERS.collaboration_customer_facts",
            "$JS.API.CONSUMER.CREATE.SALES_CUSTOMERS.tasks_other",
            "$JS.ACK.SALES_CUSTOMERS.metrics_facts_customers.1.1.1.0.0",
        ):
            await tasks.refused_publish(subject)
        # Replies of the other services' connections stay theirs.
        for subject in ("_INBOX.>", "_INBOX_notifier.>", "sales.>"):
            await tasks.nc.subscribe(subject)
            await tasks.refused("subscription", subject)
        # Its own consumer works.
        pull = await tasks.nc.jetstream().pull_subscribe(
            "sales.customers.>", durable="tasks_customer_facts", stream="SALES_CUSTOMERS"
        )
        with pytest.raises(nats.errors.TimeoutError):
            await pull.fetch(1, timeout=0.2)  # nothing published: an empty, permitted fetch
        assert not [r for r in tasks.refusals if "tasks_customer_facts" in r]


# --------------------------------------------------------------------------- (c) subscriber


async def test_the_subscriber_reads_with_a_durable_consumer_of_its_own(
    secured_nats: SecuredNats,
) -> None:
    await _streams_as_their_owners(secured_nats)
    async with logged_in(secured_nats, "customers") as customers:
        await publish_customer_registered(
            customers.nc.jetstream(), "", customer_id="cus-1", owner_id=REP, name="苏州德胜机电"
        )
    async with logged_in(secured_nats, "subscriber") as subscriber:
        js = subscriber.nc.jetstream()
        # As examples/outside_subscriber.py does: stream looked up by subject, then pulled.
        stream = await js.find_stream_name_by_subject("sales.customers.>")
        pull = await js.pull_subscribe(
            "sales.customers.>",
            durable="subscriber_bi",
            stream=stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
        )
        (message,) = await pull.fetch(1, timeout=5)
        assert message.subject == "sales.customers.customer_registered"
        assert b"cus-1" in message.data
        await message.ack_sync()
        info = await js.consumer_info(stream, "subscriber_bi")
        assert info.ack_floor.stream_seq == message.metadata.sequence.stream
        # Push consumers (ephemeral, delivered to its inbox) work as well.
        push = await js.subscribe("sales.customers.customer_registered")
        assert (await push.next_msg(timeout=5)).data == message.data
        await js.delete_consumer(stream, "subscriber_bi")
        assert subscriber.refusals == []


@pytest.mark.parametrize(
    "subject",
    [
        "sales.customers.customer_registered",
        "sales.tasks.task_planned",
        "sales.collaboration.ticket_submitted",
        "sales.notifier.notification_delivered",
        "sales.finance.invoice_issued",
        "sales.dlq.tasks.customer_facts",
    ],
)
async def test_the_subscriber_never_publishes_an_event(
    secured_nats: SecuredNats, subject: str
) -> None:
    await _streams_as_their_owners(secured_nats)
    async with logged_in(secured_nats, "subscriber") as subscriber:
        with pytest.raises(nats.errors.TimeoutError):
            await subscriber.nc.jetstream().publish(subject, b"{}", timeout=0.5)
        await subscriber.refused("publish", subject)


async def test_the_subscriber_cannot_change_streams_or_smuggle_events_in(
    secured_nats: SecuredNats,
) -> None:
    await _streams_as_their_owners(secured_nats)
    async with logged_in(secured_nats, "subscriber") as subscriber:
        for subject in (
            "$JS.API.STREAM.CREATE.SALES_CUSTOMERS",
            "$JS.API.STREAM.UPDATE.SALES_CUSTOMERS",
            "$JS.API.STREAM.DELETE.SALES_TASKS",
            "$JS.API.STREAM.PURGE.SALES_DLQ",
            "$JS.API.STREAM.MSG.DELETE.SALES_FINANCE",
        ):
            await subscriber.refused_publish(subject)
        # A push consumer delivers wherever its creator says, without asking that user's
        # publish permissions, to anyone listening there: into another stream, here.
        js = subscriber.nc.jetstream()
        await js.add_consumer(
            "SALES_CUSTOMERS",
            ConsumerConfig(durable_name="subscriber_smuggler", deliver_subject="sales.tasks.x"),
        )
        await subscriber.nc.subscribe("sales.tasks.x")
        await subscriber.refused("subscription", "sales.tasks.x")
        # So nobody listens on it, and the consumer delivers nothing.
        info = await js.consumer_info("SALES_CUSTOMERS", "subscriber_smuggler")
        assert not info.push_bound


# --------------------------------------------------------------------------- (d) passwords


async def test_a_wrong_password_is_refused(secured_nats: SecuredNats) -> None:
    server = secured_nats

    async def login_error(**credentials: str) -> str:
        try:
            nc = await nats.connect(server.url, allow_reconnect=False, **credentials)
        except nats.errors.Error as refused:
            return str(refused).lower()
        await nc.close()
        pytest.fail(f"logged in as {credentials.get('user')!r}")

    for user in USERS:
        assert "authorization violation" in await login_error(user=user, password="pwrong")
        someone_elses = server.passwords["subscriber" if user != "subscriber" else "tasks"]
        assert "authorization violation" in await login_error(user=user, password=someone_elses)
    assert "authorization violation" in await login_error()
    assert "authorization violation" in await login_error(user="admin", password="padmin")

    # A service with the wrong password keeps retrying (and logging why) instead of running.
    errors: list[Exception] = []
    reported = asyncio.Event()

    async def on_error(exc: Exception) -> None:
        errors.append(exc)
        reported.set()

    attempt = asyncio.create_task(
        connect_nats(
            server.url, name="test-wrong", user="tasks", password="pwrong", error_cb=on_error
        )
    )
    try:
        await asyncio.wait_for(reported.wait(), 10)
        assert "authorization violation" in str(errors[0]).lower()
        assert not attempt.done()
    finally:
        attempt.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await attempt

    # The right one, for contrast.
    nc = await nats.connect(
        server.url, allow_reconnect=False, user="tasks", password=server.passwords["tasks"]
    )
    assert nc.is_connected
    await nc.close()
