"""An outside system following the Sales Action Engine's events with plain nats-py.

A small "CRM sync": it keeps every customer's current decision state in its own SQLite
database, fed by ``DecisionStateChanged`` events. It needs nothing from the engine's code,
only the published contract (``contracts/published/`` in the engine's repository):

- a durable pull consumer on the customers' stream, so events published while it is
  down wait for it, and each one is acknowledged only once it is safely applied;
- each message body is a CloudEvents 1.0 envelope; ``dataschema`` names the exact shape
  of ``data`` (``urn:salesops:schema:<subject>:v<N>``), so the subscriber reads only the
  versions it knows and never guesses at a newer one;
- delivery is at least once, so applying is idempotent: the event id is recorded in the
  same transaction as the change, and a redelivered event changes nothing;
- events of one customer carry an increasing ``streamversion``; an older one arriving
  late never overwrites a newer state;
- unknown fields and other event types are ignored (a tolerant reader).

Run it next to ``make run``::

    python examples/outside_subscriber.py --db crm.sqlite3

Dependencies: Python 3.11+ and ``nats-py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

#: The one shape this subscriber reads; any other version of the event it leaves alone.
DECISION_STATE_CHANGED_V1 = "urn:salesops:schema:sales.customers.decision_state_changed:v1"
DECISION_STATE_CHANGED = DECISION_STATE_CHANGED_V1.rsplit(":", 1)[0] + ":"

SCHEMA = """
CREATE TABLE IF NOT EXISTS processed_events (
    event_id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS customer_decisions (
    customer_id    TEXT PRIMARY KEY,
    decision_state TEXT NOT NULL,
    changed_at     TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    event_id       TEXT NOT NULL
);
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--user", default=os.environ.get("NATS_USER"), help="e.g. subscriber")
    parser.add_argument("--password", default=os.environ.get("NATS_PASSWORD"))
    parser.add_argument(
        "--durable",
        default="subscriber_crm_sync",  # subscriber_<system>: the convention for outside readers
        help="this system's consumer name",
    )
    parser.add_argument("--db", default="crm-sync.sqlite3", help="this system's own database")
    parser.add_argument(
        "--namespace",
        default="",
        help="subject prefix of an isolated test run; never in production",
    )
    return parser.parse_args(argv)


@dataclass
class Envelope:
    """The CloudEvents attributes this subscriber uses."""

    id: str
    type: str
    subject: str
    dataschema: str
    schemaversion: int
    streamversion: int
    data: dict[str, Any]


class NotAnEvent(ValueError):
    """A message that is not a CloudEvents envelope of the engine's: it never will be."""


def read_envelope(body: bytes) -> Envelope:
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise NotAnEvent(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or message.get("specversion") != "1.0":
        raise NotAnEvent("not a CloudEvents 1.0 envelope")
    try:
        envelope = Envelope(
            id=str(message["id"]),
            type=str(message["type"]),
            subject=str(message["subject"]),
            dataschema=str(message["dataschema"]),
            schemaversion=int(message["schemaversion"]),
            streamversion=int(message["streamversion"]),
            data=dict(message["data"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise NotAnEvent(f"envelope attribute missing or malformed: {exc}") from None
    # The URN ends in the version; the two must agree, or the producer is broken.
    if not envelope.dataschema.endswith(f":v{envelope.schemaversion}"):
        raise NotAnEvent(f"{envelope.dataschema} does not match version {envelope.schemaversion}")
    return envelope


class CrmSync:
    """Applies DecisionStateChanged v1 to the customer_decisions table, once per event."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.executescript(SCHEMA)

    def apply(self, event: Envelope) -> str:
        """Apply one event; returns what happened, for the log."""
        data = event.data
        customer_id, to_state = str(data["customer_id"]), str(data["to_state"])
        with self.db:  # one transaction: the change and the event id, or neither
            seen = self.db.execute(
                "INSERT INTO processed_events (event_id) VALUES (?) ON CONFLICT DO NOTHING",
                (event.id,),
            )
            if seen.rowcount == 0:
                return f"duplicate {event.id}: already applied"
            changed = self.db.execute(
                """
                INSERT INTO customer_decisions
                    (customer_id, decision_state, changed_at, stream_version, event_id)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (customer_id) DO UPDATE SET
                    decision_state = excluded.decision_state,
                    changed_at = excluded.changed_at,
                    stream_version = excluded.stream_version,
                    event_id = excluded.event_id
                WHERE excluded.stream_version > customer_decisions.stream_version
                """,
                (customer_id, to_state, str(data["changed_at"]), event.streamversion, event.id),
            )
        if changed.rowcount == 0:
            return f"stale {event.id}: {customer_id} already has a newer state"
        return f"applied {event.id}: {customer_id} {data.get('from_state')} -> {to_state}"


async def handle(msg: Msg, sync: CrmSync) -> None:
    try:
        event = read_envelope(msg.data)
    except NotAnEvent as exc:
        # Redelivering it would not help: terminate it (it stays in the stream for a human).
        print(f"rejected message {msg.metadata.sequence.stream}: {exc}", flush=True)
        await msg.term()
        return
    if event.dataschema == DECISION_STATE_CHANGED_V1:
        try:
            outcome = sync.apply(event)
        except KeyError as exc:
            print(f"rejected {event.id}: data lacks {exc}", flush=True)
            await msg.term()
            return
        except sqlite3.Error as exc:  # our own trouble: try again a little later
            print(f"retrying {event.id}: {exc}", file=sys.stderr, flush=True)
            await msg.nak(delay=2)
            return
        print(outcome, flush=True)
    elif event.dataschema.startswith(DECISION_STATE_CHANGED):
        # A newer version may mean anything: never read it as v1. Upgrade this subscriber
        # (the new version's schema is published beside the old one) and replay.
        print(f"skipped {event.id}: {event.dataschema} is not a version this reads", flush=True)
        await msg.term()
        return
    else:
        print(f"ignored {event.id}: {event.dataschema}", flush=True)
    await msg.ack()


async def main(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    prefix = f"{args.namespace}." if args.namespace else ""
    subject = f"{prefix}sales.customers.>"
    nc = await nats.connect(
        args.nats_url,
        name=args.durable,
        user=args.user,
        password=args.password,
        max_reconnect_attempts=-1,  # ride out a NATS restart; the durable consumer waits
    )
    try:
        js = nc.jetstream()
        # The engine creates its streams; a subscriber only looks its stream up.
        stream = await js.find_stream_name_by_subject(subject)
        subscription = await js.pull_subscribe(
            subject,
            durable=args.durable,
            stream=stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,  # a new subscriber starts from the start
                ack_wait=30,
                max_deliver=10,
            ),
        )
        sync = CrmSync(sqlite3.connect(args.db))
        print(f"following {subject} in {stream} as {args.durable}", flush=True)
        while not stop.is_set():
            try:
                messages = await subscription.fetch(batch=50, timeout=1)
            except TimeoutError:  # nats-py's own, or asyncio's when a fetch ends with nothing
                continue  # nothing new: ask again (and notice a stop request)
            for msg in messages:
                await handle(msg, sync)
    finally:
        await nc.close()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
