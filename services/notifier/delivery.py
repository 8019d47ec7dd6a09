"""Delivering notifications: once per (event, recipient, channel), retried, rate-limited.

Routing writes one ``deliveries`` row per recipient and channel (a unique key, so a
redelivered event adds nothing). A worker sends due rows with ``FOR UPDATE SKIP LOCKED``
(replicas share the work), counting every request against its robot's per-minute limit:
a message over the limit waits for the minute to pass, it is never dropped and the robot
never sees the excess. Failures retry with exponential back-off and full jitter; one
that keeps failing is dead-lettered (listed, replayable). Every attempt is recorded, and
NotificationDelivered / NotificationFailed are published. The clock is injected.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from opentelemetry import trace

from contracts.notifier import NotificationDelivered, NotificationFailed
from salesops.auth import SYSTEM_ACTOR
from salesops.clock import Clock
from salesops.db import DbConnection
from salesops.eventstore import StreamAppend
from salesops.opsmetrics import OperationalMetrics
from salesops.recording import EventRecorder, metadata_for
from salesops.telemetry import context_from_traceparent, current_traceparent, tracer
from services.notifier.messages import Channel, DeliveryResult, OutgoingMessage, Recipient

MINUTE = timedelta(minutes=1)
#: How long a claimed delivery is the claiming worker's: longer than a send can take (the
#: HTTP clients time out after 10 s), so two workers never send the same message.
LEASE = timedelta(seconds=60)
#: Messages of unlimited channels sent at once and recorded in one transaction: what a
#: kill can repeat, traded against the round trips of recording each alone.
TOGETHER_CHUNK = 16


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retries and per-robot limits (DingTalk and WeCom robots take 20 messages a minute)."""

    max_attempts: int = 6
    first_backoff: timedelta = timedelta(seconds=2)
    max_backoff: timedelta = timedelta(minutes=10)
    per_minute: Mapping[str, int] = field(
        default_factory=lambda: {"dingtalk": 20, "wecom": 20, "feishu": 100}
    )
    #: How many messages of one channel without a per-minute limit are sent at once (the
    #: rate-limited ones go one after the other, each counted against its robot's window).
    #: Few: a remote endpoint's latency is overlapped, but httpx's pool checks each of its
    #: connections on every request, so against a local sink 2 at once sent 845/s, 4 652/s,
    #: 8 378/s and 16 254/s (CPU-bound; the shared client's connections add up).
    concurrent_sends: Mapping[str, int] = field(default_factory=dict)
    default_concurrent_sends: int = 4

    def backoff(self, attempt: int, rng: random.Random) -> timedelta:
        """Exponential back-off with full jitter (AWS architecture blog's recommendation)."""
        ceiling: timedelta = min(self.max_backoff, self.first_backoff * 2 ** (attempt - 1))
        return ceiling * rng.random()


@dataclass(frozen=True)
class Planned:
    """A delivery routing decided on, ready to store."""

    person_id: str
    channel: str
    robot_key: str
    recipient: Recipient
    message: OutgoingMessage
    urgent: bool
    hold_until: datetime | None = None  # quiet hours: sent later, in a digest


async def plan_deliveries(
    conn: DbConnection,
    *,
    event_id: str,
    event_type: str,
    planned: list[Planned],
    now: datetime,
    trace_attributes: Mapping[str, str | int] | None = None,
) -> int:
    """Store what to send; returns how many were new (a redelivered event adds none).

    The current trace context and ``trace_attributes`` (what the event is about) are kept
    with each delivery: the send, later and in another task, continues that trace.
    """
    added = 0
    for p in planned:
        status = "held" if p.hold_until is not None else "pending"
        result = await conn.execute(
            "INSERT INTO deliveries (delivery_id, event_id, event_type, person_id, channel,"
            " robot_key, recipient, message, urgent, status, next_attempt_at, created_at,"
            " traceparent, trace_attributes)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            " ON CONFLICT (event_id, person_id, channel) DO NOTHING",
            f"dlv-{uuid.uuid4().hex[:16]}",
            event_id,
            event_type,
            p.person_id,
            p.channel,
            p.robot_key,
            dataclasses.asdict(p.recipient),
            dataclasses.asdict(p.message),
            p.urgent,
            status,
            p.hold_until or now,
            now,
            current_traceparent(),
            dict(trace_attributes) if trace_attributes else None,
        )
        added += result == "INSERT 0 1"
    return added


class DeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        recorder: EventRecorder,
        channels: Mapping[str, Channel],
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        rng: random.Random | None = None,
        digest_title: str = "免打扰期间的通知 / While you were away",
        metrics: OperationalMetrics | None = None,
    ) -> None:
        self._pool = pool
        self._recorder = recorder
        self._channels = dict(channels)
        self._clock = clock
        self._policy = policy or DeliveryPolicy()
        self._rng = rng or random.Random()
        self._digest_title = digest_title
        self._metrics = metrics

    def _count(self, channel: str, status: str) -> None:
        if self._metrics is not None:
            self._metrics.notifications.labels(channel, status).inc()

    async def tick(self, batch: int = 50) -> int:
        """Release digests whose quiet hours ended, then send what is due; returns sent count."""
        await self.release_held()
        sent = 0
        while True:
            done, handled = await self.send_due(batch)
            sent += done
            if handled < batch:
                return sent

    async def send_due(self, batch: int = 50) -> tuple[int, int]:
        """One batch: returns (delivered, handled).

        The batch is claimed first, in a short transaction that leases each row (pushes its
        due time past ``LEASE``), and each outcome is then recorded as soon as it is known.
        A worker killed mid-batch therefore repeats at most the messages it had in flight
        (one per rate-limited robot, a small chunk on the others; no platform here takes
        an idempotency key), not every message of the batch; another worker or a restart
        picks the rest up once their lease has run out.
        """
        now = self._clock.now()
        delivered = 0
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                rows = await conn.fetch(
                    "UPDATE deliveries SET next_attempt_at = $3 WHERE delivery_id IN ("
                    " SELECT delivery_id FROM deliveries"
                    " WHERE status = 'pending' AND next_attempt_at <= $1"
                    " ORDER BY next_attempt_at, created_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
                    " RETURNING *",
                    now,
                    batch,
                    now + LEASE,
                )
            rows = sorted(rows, key=lambda row: (row["created_at"], row["delivery_id"]))
            together = [row for row in rows if self._sent_together(row["channel"])]
            for row in rows:
                if not self._sent_together(row["channel"]):
                    async with conn.transaction():
                        delivered += await self._attempt(conn, row, now)
            for start in range(0, len(together), TOGETHER_CHUNK):
                async with conn.transaction():
                    chunk = together[start : start + TOGETHER_CHUNK]
                    delivered += await self._attempt_together(conn, chunk, now)
        return delivered, len(rows)

    def _sent_together(self, channel: str) -> bool:
        """A configured channel without a per-minute limit: its messages go out at once."""
        return channel in self._channels and channel not in self._policy.per_minute

    async def _send(self, row: asyncpg.Record, channel: Channel) -> DeliveryResult:
        message = OutgoingMessage(**_json(row["message"]))
        recipient = Recipient(**_json(row["recipient"]))
        # The send continues the trace of the event it is about (HTTP command -> ... -> chat).
        with tracer.start_as_current_span(
            f"send {row['channel']}",
            context=context_from_traceparent(row["traceparent"]),
            kind=trace.SpanKind.CLIENT,
        ) as span:
            if row["trace_attributes"]:
                span.set_attributes(_json(row["trace_attributes"]))
            span.set_attribute("salesops.delivery.id", row["delivery_id"])
            span.set_attribute("salesops.delivery.channel", row["channel"])
            span.set_attribute("salesops.delivery.recipient", row["person_id"])
            span.set_attribute("salesops.event.type", row["event_type"])
            result = await channel.send(message, recipient)
            span.set_attribute("salesops.delivery.ok", result.ok)
            if result.status_code is not None:
                span.set_attribute("salesops.delivery.status_code", result.status_code)
            if not result.ok:
                span.set_status(trace.StatusCode.ERROR, result.provider_reply[:200])
        return result

    async def _attempt_together(
        self, conn: DbConnection, rows: list[asyncpg.Record], now: datetime
    ) -> int:
        """Send the rows at once (a few per channel at a time), then record every outcome
        with a handful of statements: as :meth:`_attempt` does one by one, in bulk."""
        limits = {
            name: asyncio.Semaphore(
                self._policy.concurrent_sends.get(name, self._policy.default_concurrent_sends)
            )
            for name in {row["channel"] for row in rows}
        }

        async def send(row: asyncpg.Record) -> DeliveryResult:
            async with limits[row["channel"]]:
                return await self._send(row, self._channels[row["channel"]])

        results = await asyncio.gather(*(send(row) for row in rows))
        ids = [row["delivery_id"] for row in rows]
        replies = [result.provider_reply[:4000] for result in results]
        await conn.execute(
            "INSERT INTO robot_sends SELECT unnest($1::text[]), $2",
            [row["robot_key"] for row in rows],
            now,
        )
        await conn.execute(
            "INSERT INTO delivery_attempts"
            " SELECT a.id, coalesce((SELECT max(attempt) FROM delivery_attempts d"
            " WHERE d.delivery_id = a.id), 0) + 1, $2, a.ok, a.retryable, a.code, a.reply"
            " FROM unnest($1::text[], $3::bool[], $4::bool[], $5::int[], $6::text[])"
            " AS a(id, ok, retryable, code, reply)",
            ids,
            now,
            [result.ok for result in results],
            [result.retryable for result in results],
            [result.status_code for result in results],
            replies,
        )
        sent: list[tuple[asyncpg.Record, int, str]] = []
        retried: list[tuple[asyncpg.Record, int, str]] = []
        dead: list[tuple[asyncpg.Record, int, str]] = []
        for row, result, reply in zip(rows, results, replies, strict=True):
            attempt = row["attempts"] + 1
            if result.ok:
                sent.append((row, attempt, reply))
            elif result.retryable and attempt < self._policy.max_attempts:
                retried.append((row, attempt, reply))
            else:
                dead.append((row, attempt, result.provider_reply))
        if sent:
            await conn.execute(
                "UPDATE deliveries d SET status = 'sent', attempts = u.attempts, sent_at = $2,"
                " last_reply = u.reply FROM unnest($1::text[], $3::int[], $4::text[])"
                " AS u(id, attempts, reply) WHERE d.delivery_id = u.id",
                [row["delivery_id"] for row, _, _ in sent],
                now,
                [attempt for _, attempt, _ in sent],
                [reply for _, _, reply in sent],
            )
        if retried:
            await conn.execute(
                "UPDATE deliveries d SET attempts = u.attempts, next_attempt_at = u.next,"
                " last_reply = u.reply"
                " FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[])"
                " AS u(id, attempts, next, reply) WHERE d.delivery_id = u.id",
                [row["delivery_id"] for row, _, _ in retried],
                [attempt for _, attempt, _ in retried],
                [now + self._policy.backoff(attempt, self._rng) for _, attempt, _ in retried],
                [reply for _, _, reply in retried],
            )
        if dead:
            await conn.execute(
                "UPDATE deliveries d SET status = 'dead', attempts = u.attempts,"
                " last_reply = u.reply FROM unnest($1::text[], $2::int[], $3::text[])"
                " AS u(id, attempts, reply) WHERE d.delivery_id = u.id",
                [row["delivery_id"] for row, _, _ in dead],
                [attempt for _, attempt, _ in dead],
                [reason[:4000] for _, _, reason in dead],
            )
        outcomes: list[tuple[asyncpg.Record, NotificationDelivered | NotificationFailed]] = [
            (row, self._delivered(row, attempt, now)) for row, attempt, _ in sent
        ] + [(row, self._failed(row, attempt, reason, now)) for row, attempt, reason in dead]
        await self._publish_all(conn, outcomes)
        for row, _, _ in sent:
            self._count(row["channel"], "sent")
        for row, _, _ in retried:
            self._count(row["channel"], "failed")
        for row, _, _ in dead:
            self._count(row["channel"], "dead_lettered")
        return len(sent)

    async def _attempt(self, conn: DbConnection, row: asyncpg.Record, now: datetime) -> bool:
        channel = self._channels.get(row["channel"])
        if channel is None:
            await self._give_up(
                conn,
                row,
                now,
                f"channel {row['channel']!r} is not configured",
                attempts=max(row["attempts"], 1),
            )
            return False
        limit = self._policy.per_minute.get(row["channel"])
        if limit is not None:
            window = await conn.fetchrow(
                "SELECT count(*) AS sent, min(sent_at) AS oldest FROM robot_sends"
                " WHERE robot_key = $1 AND sent_at > $2",
                row["robot_key"],
                now - MINUTE,
            )
            assert window is not None
            if window["sent"] >= limit:
                # Over the robot's limit: wait until the oldest send leaves the window, and
                # so does every other message of this robot due by now and not claimed
                # (in one statement: a backlog of thousands for a busy robot is otherwise
                # claimed and counted against the window one by one, every minute).
                await conn.execute(
                    "UPDATE deliveries SET next_attempt_at = $3 WHERE robot_key = $1"
                    " AND status = 'pending' AND (delivery_id = $2 OR next_attempt_at <= $4)",
                    row["robot_key"],
                    row["delivery_id"],
                    window["oldest"] + MINUTE + timedelta(microseconds=1),
                    now,
                )
                return False
        result = await self._send(row, channel)
        attempt = row["attempts"] + 1
        await conn.execute("INSERT INTO robot_sends VALUES ($1, $2)", row["robot_key"], now)
        # Attempt numbers keep counting across a replay; ``attempts`` is the retry budget.
        await conn.execute(
            "INSERT INTO delivery_attempts SELECT $1, coalesce(max(attempt), 0) + 1, $2, $3, $4,"
            " $5, $6 FROM delivery_attempts WHERE delivery_id = $1",
            row["delivery_id"],
            now,
            result.ok,
            result.retryable,
            result.status_code,
            result.provider_reply[:4000],
        )
        if result.ok:
            await conn.execute(
                "UPDATE deliveries SET status = 'sent', attempts = $2, sent_at = $3,"
                " last_reply = $4 WHERE delivery_id = $1",
                row["delivery_id"],
                attempt,
                now,
                result.provider_reply[:4000],
            )
            self._count(row["channel"], "sent")
            await self._publish(conn, row, self._delivered(row, attempt, now))
            return True
        if result.retryable and attempt < self._policy.max_attempts:
            await conn.execute(
                "UPDATE deliveries SET attempts = $2, next_attempt_at = $3, last_reply = $4"
                " WHERE delivery_id = $1",
                row["delivery_id"],
                attempt,
                now + self._policy.backoff(attempt, self._rng),
                result.provider_reply[:4000],
            )
            self._count(row["channel"], "failed")
            return False
        await self._give_up(conn, row, now, result.provider_reply, attempts=attempt)
        return False

    async def _give_up(
        self, conn: DbConnection, row: asyncpg.Record, now: datetime, reason: str, *, attempts: int
    ) -> None:
        await conn.execute(
            "UPDATE deliveries SET status = 'dead', attempts = $2, last_reply = $3"
            " WHERE delivery_id = $1",
            row["delivery_id"],
            attempts,
            reason[:4000],
        )
        self._count(row["channel"], "dead_lettered")
        await self._publish(conn, row, self._failed(row, attempts, reason, now))

    @staticmethod
    def _delivered(row: asyncpg.Record, attempts: int, now: datetime) -> NotificationDelivered:
        return NotificationDelivered(
            delivery_id=row["delivery_id"],
            about_event_id=row["event_id"],
            about_event_type=row["event_type"],
            person_id=row["person_id"],
            channel=row["channel"],
            attempts=attempts,
            delivered_at=now,
        )

    @staticmethod
    def _failed(
        row: asyncpg.Record, attempts: int, reason: str, now: datetime
    ) -> NotificationFailed:
        return NotificationFailed(
            delivery_id=row["delivery_id"],
            about_event_id=row["event_id"],
            about_event_type=row["event_type"],
            person_id=row["person_id"],
            channel=row["channel"],
            attempts=attempts,
            reason=reason[:1000],
            failed_at=now,
        )

    async def _publish_all(
        self,
        conn: DbConnection,
        outcomes: list[tuple[asyncpg.Record, NotificationDelivered | NotificationFailed]],
    ) -> None:
        """Each outcome appended to its delivery's stream, all in one statement.

        The delivery rows are locked by this worker, so no one else appends to their
        streams meanwhile: the versions read here are the ones to expect.
        """
        if not outcomes:
            return
        streams = [f"delivery-{row['delivery_id']}" for row, _ in outcomes]
        versions = {
            record["stream_id"]: record["version"]
            for record in await conn.fetch(
                "SELECT stream_id, version FROM streams WHERE stream_id = ANY($1::text[])",
                streams,
            )
        }
        await self._recorder.record_many(
            conn,
            [
                StreamAppend(stream, [event], versions.get(stream, 0))
                for stream, (_, event) in zip(streams, outcomes, strict=True)
            ],
            metadata=metadata_for(SYSTEM_ACTOR),
        )

    async def _publish(
        self,
        conn: DbConnection,
        row: asyncpg.Record,
        event: NotificationDelivered | NotificationFailed,
    ) -> None:
        await self._recorder.record(
            conn,
            f"delivery-{row['delivery_id']}",
            [event],
            expected_version=None,
            metadata=metadata_for(SYSTEM_ACTOR),
        )

    async def release_held(self) -> int:
        """Quiet hours over: one digest per person and channel instead of a burst."""
        now = self._clock.now()
        released = 0
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT * FROM deliveries WHERE status = 'held' AND next_attempt_at <= $1"
                " ORDER BY person_id, channel, created_at FOR UPDATE SKIP LOCKED",
                now,
            )
            groups: dict[tuple[str, str], list[asyncpg.Record]] = {}
            for row in rows:
                groups.setdefault((row["person_id"], row["channel"]), []).append(row)
            for (person_id, channel), held in groups.items():
                messages = [OutgoingMessage(**_json(r["message"])) for r in held]
                digest = digest_message(self._digest_title, messages)
                await plan_deliveries(
                    conn,
                    event_id=f"digest:{person_id}:{channel}:{now.isoformat()}",
                    event_type="Digest",
                    now=now,
                    planned=[
                        Planned(
                            person_id,
                            channel,
                            held[0]["robot_key"],
                            Recipient(**_json(held[0]["recipient"])),
                            digest,
                            False,
                        )
                    ],
                )
                await conn.execute(
                    "UPDATE deliveries SET status = 'digested' WHERE delivery_id = ANY($1::text[])",
                    [r["delivery_id"] for r in held],
                )
                released += 1
        return released

    async def replay(self, delivery_id: str) -> bool:
        """Send a dead-lettered delivery again, from a clean attempt count."""
        status = await self._pool.execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2"
            " WHERE delivery_id = $1 AND status = 'dead'",
            delivery_id,
            self._clock.now(),
        )
        return bool(status == "UPDATE 1")


def digest_message(title: str, messages: list[OutgoingMessage]) -> OutgoingMessage:
    lines = [f"- {m.title}" + (f" ({m.link})" if m.link else "") for m in messages]
    html_items = "".join(f"<li>{m.html}</li>" for m in messages)
    return OutgoingMessage(
        title=f"{title} ({len(messages)})",
        markdown=f"### {title}\n\n" + "\n".join(lines),
        text=f"{title}\n\n" + "\n".join(lines),
        html=f"<h3>{title}</h3><ul>{html_items}</ul>",
    )


def _json(value: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return loaded
