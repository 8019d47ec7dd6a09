"""Malformed and foreign messages on a consumed subject, between good events.

Whatever lands on ``sales.customers.*`` — bytes that are no JSON, JSON that is no
envelope, an outside system's CloudEvent, an event type or schema version nobody knows,
an envelope whose data breaks its contract, a payload near NATS' size limit — every
consumer of the real services must settle it and go on: dead-lettered on
``sales.dlq.<service>.<consumer>`` where it cannot be handled, skipped or kept (the
metrics inbox keeps what a later version may read) where that is the rule, and the good
events published after them are handled. ``salesops/test_consumers.py`` covers the
consumer machinery on its own; this runs the tasks and metrics services as deployed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.customers import CustomerRegistered, CustomerTier
from contracts.envelope import Envelope
from contracts.subjects import dead_letter_subject, subject_for
from salesops.testing.apps import ServiceStarter
from salesops.testing.events import publish_envelope
from salesops.testing.waiting import eventually
from services.metrics.service import METRICS
from services.tasks.service import TASKS

pytestmark = pytest.mark.integration

REP = "rep-zhang-wei"


def registered(customer_id: str, namespace: str, *, schemaversion: int | None = None) -> Envelope:
    event = CustomerRegistered(
        customer_id=customer_id,
        external_key=None,
        name=f"客户 {customer_id}",
        tier=CustomerTier.A,
        owner_id=REP,
        org_unit_id="group-east-1",
        estimated_contribution=Decimal("1000.00"),
        registered_by=REP,
        registered_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    envelope = Envelope.for_event(
        event,
        event_id=uuid.uuid4(),
        subject_id=customer_id,
        time=datetime(2026, 3, 2, tzinfo=UTC),
        actor=REP,
        stream_version=1,
        correlation_id="foreign-messages",
        namespace=namespace,
    )
    if schemaversion is not None:
        envelope = envelope.model_copy(update={"schemaversion": schemaversion})
    return envelope


def with_data(envelope: Envelope, data: object) -> bytes:
    document = json.loads(envelope.to_json_bytes())
    document["data"] = data
    return json.dumps(document).encode()


@dataclass(frozen=True)
class Foreign:
    """A message published raw on ``subject``; ``tasks`` and ``metrics`` say its fate.

    A fate is "dead" (parked on the consumer's dead-letter subject), "skip" (acked,
    nothing kept) or "keep" (in the metrics inbox, for a later version to read).
    """

    name: str
    subject: str
    data: bytes
    tasks: str
    metrics: str


def foreign_messages(namespace: str, max_payload: int) -> list[Foreign]:
    on_registered = subject_for("customers", "CustomerRegistered", namespace)
    unknown_type = registered("cus-x", namespace).model_copy(
        update={"type": subject_for("customers", "CustomerTeleported", namespace)}
    )
    too_long_id = {**registered("cus-huge", namespace).data, "customer_id": "x" * 500_000}
    outside_cloud_event = {
        "specversion": "1.0",
        "id": "erp-1",
        "source": "erp",
        "type": "com.erp.customer.created",
        "data": {"kunnr": "0000042"},
    }
    return [
        Foreign("no JSON", on_registered, b"\x00\xff{not json at all", "dead", "dead"),
        Foreign("JSON, no envelope", on_registered, b'{"hello": "world"}', "dead", "dead"),
        Foreign("a JSON array", on_registered, b"[1, 2, 3]", "dead", "dead"),
        Foreign(
            "an outside system's CloudEvent",
            on_registered,
            json.dumps(outside_cloud_event).encode(),
            "dead",
            "dead",
        ),
        Foreign(
            "an event type nobody knows",
            unknown_type.type,
            unknown_type.to_json_bytes(),
            "skip",
            "keep",
        ),
        Foreign(
            "a schema version nobody knows",
            on_registered,
            registered("cus-v99", namespace, schemaversion=99).to_json_bytes(),
            "dead",
            "keep",
        ),
        Foreign(
            "data that breaks its contract",
            on_registered,
            with_data(registered("cus-bad", namespace), {"customer_id": 42, "tier": "Z"}),
            "dead",
            "dead",
        ),
        Foreign(
            "a half-megabyte id",
            on_registered,
            with_data(registered("cus-huge", namespace), too_long_id),
            "dead",
            "dead",
        ),
        # As big as NATS takes: the dead letter's own headers do not fit beside it.
        Foreign("a blob at the size limit", on_registered, b"\xfe" * max_payload, "dead", "dead"),
    ]


class DeadLetters:
    """The dead letters of one consumer, as they arrive."""

    def __init__(self) -> None:
        self.letters: list[Msg] = []

    async def receive(self, msg: Msg) -> None:
        self.letters.append(msg)

    def of(self, message: Foreign) -> list[Msg]:
        """The letters that park ``message``: whole, or cut to fit beside their headers."""
        return [
            letter
            for letter in self.letters
            if letter.data == message.data
            or (
                "Salesops-Payload-Truncated" in (letter.headers or {})
                and message.data.startswith(letter.data)
            )
        ]


CONSUMERS = {"tasks": "customer_facts", "metrics": "facts_customers"}


async def test_foreign_messages_are_settled_and_the_good_events_behind_them_go_through(
    start_service: ServiceStarter,
    namespace: str,
    js: JetStreamContext,
    nats_client: NatsClient,
) -> None:
    messages = foreign_messages(namespace, nats_client.max_payload)
    async with (
        start_service(TASKS, own_schema=True) as tasks,
        start_service(METRICS, own_schema=True) as metrics,
    ):
        dead = {owner: DeadLetters() for owner in CONSUMERS}
        for owner, consumer in CONSUMERS.items():
            subject = dead_letter_subject(owner, consumer, namespace)
            await js.subscribe(subject, cb=dead[owner].receive)

        await publish_envelope(js, registered("cus-before", namespace))
        for message in messages:
            await js.publish(message.subject, message.data)
        await publish_envelope(js, registered("cus-after", namespace))

        async def tasks_know() -> set[str]:
            rows = await tasks.runtime.pool.fetch("SELECT customer_id FROM known_customers")
            return {row["customer_id"] for row in rows}

        async def inbox() -> list[str]:
            rows = await metrics.runtime.pool.fetch("SELECT subject FROM inbox ORDER BY 1")
            return [row["subject"] for row in rows]

        # The event behind the bad ones is handled at once, while some are still retried.
        await eventually(lambda: _holds(tasks_know(), {"cus-before", "cus-after"}), seconds=10)

        async def all_parked() -> bool:
            return all(
                len(dead[owner].of(message)) == 1
                for message in messages
                for owner in CONSUMERS
                if getattr(message, owner) == "dead"
            )

        # Those that fail in the handler are retried five times, 1 + 2 + 3 + 4 s apart.
        await eventually(all_parked, seconds=40)
        await asyncio.sleep(1)  # nothing else is parked after them
        for owner, consumer in CONSUMERS.items():
            fates = [getattr(message, owner) for message in messages]
            assert len(dead[owner].letters) == fates.count("dead")
            for letter in dead[owner].letters:
                assert letter.headers is not None
                assert letter.headers["Salesops-Consumer"] == f"{owner}_{consumer}"
                assert letter.headers["Salesops-Original-Subject"].startswith(
                    f"{namespace}.sales.customers."
                )
                assert letter.headers["Salesops-Error"]
        (cut,) = dead["tasks"].of(messages[-1])
        assert cut.headers is not None
        assert cut.headers["Salesops-Payload-Truncated"].endswith(
            f"of {nats_client.max_payload} bytes"
        )

        # Kept where the rule keeps them: the metrics inbox holds the good events and the
        # two it cannot read yet; the tasks service learnt the good customers only.
        registered_subject = "sales.customers.customer_registered"
        assert await inbox() == [
            registered_subject,
            registered_subject,
            registered_subject,  # the unknown schema version 99
            "sales.customers.customer_teleported",
        ]
        assert await tasks_know() == {"cus-before", "cus-after"}

        # Neither consumer crashed: an event published after it all is still handled.
        await publish_envelope(js, registered("cus-later", namespace))
        await eventually(lambda: _holds(tasks_know(), {"cus-later"}), seconds=10)
        await eventually(lambda: _longer(inbox(), 4), seconds=10)


async def _holds(found: Awaitable[set[str]], wanted: set[str]) -> bool:
    return wanted <= await found


async def _longer(found: Awaitable[list[str]], than: int) -> bool:
    return len(await found) > than
