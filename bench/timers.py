"""Section: a burst of SLA deadlines, all falling due in the same second.

The collaboration service runs in its own process with its real clock and its default
timer poller. This process submits ``timers`` sample requests through the service's own
``TicketService`` (the real domain code, on the service's schema) with a manual clock set
two hours (the tech answer limit) before a second ``T`` a little in the future: every
ticket's tech stage is then due within ``[T, T + 1 s)``, each with its stage timer in
the ``timers`` table, exactly as a submission at that time would have left it.

At ``T`` the poller fires them: each loads its ticket, records TicketTimedOut (and
TicketEscalated) and schedules the next window; the relay publishes the events. The
figures come from JetStream itself: every TicketTimedOut message's stored timestamp is
when it was published. Lateness is that minus the stage's due time; a stage reported
twice at one escalation level is a duplicate.

``T`` must lie after the fill: a first 5 % of tickets (due a day later, so they stay out
of the burst) measures the fill rate, and ``T`` is set from it with a margin.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from nats.js.api import ConsumerConfig, DeliverPolicy

from bench.http import REP, seed_known_customers
from bench.measure import CpuMeter, RssSampler, latency_summary
from bench.report import figure
from bench.servers import Servers, fresh_database, fresh_namespace
from bench.service import ServiceProcess, service_process
from contracts.collaboration import TicketTimedOut
from contracts.subjects import stream_name_for
from salesops.auth import Actor
from salesops.clock import ManualClock
from salesops.db import create_pool
from salesops.eventstore import EventStore
from salesops.jetstream import connect_nats
from salesops.orgdir import load_org_directory
from salesops.policy import load_policy
from salesops.settings import REPO_ROOT
from services.collaboration.handlers import TicketService
from services.collaboration.ticket import TECH

log = logging.getLogger(__name__)

GOAL_ALL_WITHIN_S = 3.0
GOAL_P99_LATENESS_S = 1.0
FILL_CONCURRENCY = 8
#: Time from the end of the fill to T: the relay publishes the fill's events meanwhile.
MARGIN_SECONDS = 3.0
SPREAD = timedelta(seconds=1)


async def fill_tickets(
    dsn: str, *, count: int, due_from: datetime, spread: timedelta, start_index: int = 0
) -> float:
    """Submit ``count`` tickets whose tech stages fall due in ``[due_from, due_from + spread)``.

    Returns the seconds it took. Worker ``k`` submits every ``FILL_CONCURRENCY``-th ticket
    with a clock of its own, moved forward ticket by ticket.
    """
    directory = load_org_directory(REPO_ROOT / "deploy" / "org.yaml")
    policy = load_policy(REPO_ROOT / "deploy" / "policy.yaml")
    person = directory.person(REP)
    actor = Actor(person.id, person.name, frozenset(str(role) for role in person.roles))
    customers = await seed_known_customers(dsn, "collaboration", REP, 100)
    pool = await create_pool(
        dsn, "collaboration", min_size=FILL_CONCURRENCY, max_size=FILL_CONCURRENCY
    )
    try:
        store = EventStore(pool)
        services = []
        for _ in range(FILL_CONCURRENCY):
            clock = ManualClock(datetime(2000, 1, 1, tzinfo=UTC))
            service = TicketService(pool, store, clock, directory, policy)
            services.append((clock, service, service.rules[TECH].limit))

        async def submit(worker: int, index: int) -> bool:
            clock, service, limit = services[worker]
            offset = (index - start_index) / count
            clock.set(due_from - limit + spread * offset)
            await service.submit(
                actor,
                kind="sample_request",
                customer_id=customers[index % len(customers)],
                product="HY-75 空压机",
                quantity=2,
                document_types=["ce_certification_report"],
                note=None,
            )
            return True

        # In order per worker: a worker's clock only moves forward.
        queues = [
            list(range(start_index + k, start_index + count, FILL_CONCURRENCY))
            for k in range(FILL_CONCURRENCY)
        ]

        async def lane(worker: int) -> None:
            for index in queues[worker]:
                await submit(worker, index)

        began = time.perf_counter()
        await asyncio.gather(*(lane(k) for k in range(FILL_CONCURRENCY)))
        return time.perf_counter() - began
    finally:
        await pool.close()


async def _timed_out_messages(
    nats_url: str, namespace: str
) -> list[tuple[datetime, dict[str, Any]]]:
    """Every TicketTimedOut in the collaboration stream: (JetStream timestamp, envelope)."""
    import orjson

    nc = await connect_nats(nats_url, name="salesops-bench-timers")
    found: list[tuple[datetime, dict[str, Any]]] = []
    try:
        js = nc.jetstream()
        stream = stream_name_for("collaboration", namespace)
        subject = TicketTimedOut.subject(namespace)
        info = await js.stream_info(stream)
        sub = await js.pull_subscribe(
            subject,
            stream=stream,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=60),
        )
        try:
            total = info.state.messages
            read = 0
            while read < total:
                try:
                    messages = await sub.fetch(1000, timeout=1.0)
                except TimeoutError:
                    break
                for message in messages:
                    read += 1
                    assert message.metadata.timestamp is not None
                    found.append((message.metadata.timestamp, orjson.loads(message.data)))
                    await message.ack()
                if message.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()
    return found


async def _settled(dsn: str, expected: int, deadline: float) -> tuple[int, int]:
    """Wait until ``expected`` TicketTimedOut are stored and the outbox is empty."""
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            stored = int(
                await conn.fetchval(
                    "SELECT count(*) FROM collaboration.events WHERE event_type = 'TicketTimedOut'"
                )
            )
            outbox = int(await conn.fetchval("SELECT count(*) FROM collaboration.outbox"))
            if (stored >= expected and outbox == 0) or time.monotonic() > deadline:
                return stored, outbox
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def _timer_lateness(dsn: str, due_from: datetime, spread: timedelta) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT extract(epoch FROM fired_at - due_at)::float8 AS late, fired_at IS NOT NULL"
            " AS fired FROM collaboration.timers WHERE kind = 'collaboration.stage_due'"
            " AND due_at >= $1 AND due_at < $2",
            due_from,
            due_from + spread + timedelta(seconds=1),
        )
    finally:
        await conn.close()
    late = [row["late"] for row in rows if row["fired"]]
    return {
        "timers_in_burst": len(rows),
        "fired": len(late),
        "firing_lateness": latency_summary(late),
    }


async def measure_burst(
    dsn: str,
    nats_url: str,
    namespace: str,
    service: ServiceProcess,
    *,
    timers: int,
    settle_timeout: float = 60.0,
) -> dict[str, Any]:
    """Fill, wait for T, measure the burst; ``service`` runs collaboration on ``dsn``."""
    calibrate = max(20, timers // 20)
    far = datetime.now(UTC) + timedelta(days=1)
    calibration = await fill_tickets(dsn, count=calibrate, due_from=far, spread=SPREAD)
    rate = calibrate / calibration
    lead = timers / rate * 1.5 + MARGIN_SECONDS
    due_from = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    log.info("timers: fill %.0f tickets/s; %d deadlines due at %s", rate, timers, due_from)
    fill_seconds = await fill_tickets(
        dsn, count=timers, due_from=due_from, spread=SPREAD, start_index=calibrate
    )
    fill_ended = datetime.now(UTC)
    if fill_ended > due_from:
        log.warning("timers: the fill overran T by %s", fill_ended - due_from)
    meter = CpuMeter.for_pids({"service": [service.pid]})
    async with RssSampler({"service": [service.pid]}) as rss:
        await asyncio.sleep(max(0.0, (due_from - datetime.now(UTC)).total_seconds() - 0.5))
        meter.start()
        stored, outbox = await _settled(dsn, timers, time.monotonic() + settle_timeout)
        cpu = meter.stop()
    messages = await _timed_out_messages(nats_url, namespace)
    burst_end = due_from + SPREAD
    in_burst = [
        (at, envelope)
        for at, envelope in messages
        if due_from <= datetime.fromisoformat(envelope["data"]["due_at"]) < burst_end
    ]
    lateness = [
        (at - datetime.fromisoformat(envelope["data"]["due_at"])).total_seconds()
        for at, envelope in in_burst
    ]
    keys = Counter(
        (e["data"]["ticket_id"], e["data"]["stage"], e["data"]["escalation_level"])
        for _, e in in_burst
    )
    last = max((at for at, _ in in_burst), default=None)
    within = (last - due_from).total_seconds() if last is not None else None
    return {
        "timers": timers,
        "due_from": due_from.isoformat(),
        "due_within_seconds": SPREAD.total_seconds(),
        "fill_tickets_per_second": round(timers / fill_seconds, 1),
        "fill_overran_t": fill_ended > due_from,
        "published": len(in_burst),
        "stored_ticket_timed_out": stored,
        "outbox_rows_left": outbox,
        "duplicates": sum(count - 1 for count in keys.values() if count > 1),
        "all_published_within_seconds": round(within, 3) if within is not None else None,
        "publish_lateness": latency_summary(lateness),
        **await _timer_lateness(dsn, due_from, SPREAD),
        "service_peak_rss_mb": rss.peak_mb()["service"],
        "cpu": cpu,
    }


def burst_figures(result: dict[str, Any], label: str = "") -> list[dict[str, Any]]:
    prefix = f"{label} " if label else ""
    n = result["timers"]
    within = result["all_published_within_seconds"]
    complete = result["published"] == n
    return [
        figure(
            f"{prefix}{n:,} timers: all TicketTimedOut published within",
            within if complete else None,
            "s",
            at_most=GOAL_ALL_WITHIN_S,
            limit="publish",
        ),
        figure(
            f"{prefix}timers publish lateness p99",
            result["publish_lateness"]["p99_ms"] / 1000,
            "s",
            below=GOAL_P99_LATENESS_S,
        ),
        figure(f"{prefix}timers published", result["published"], "", equals=n),
        figure(f"{prefix}timers published twice", result["duplicates"], "", equals=0),
    ]


async def run_timers(servers: Servers, *, timers: int) -> dict[str, Any]:
    async with (
        fresh_database(servers.admin_dsn) as dsn,
        fresh_namespace(servers.nats_url) as namespace,
        service_process("collaboration", dsn, servers.nats_url, namespace) as service,
    ):
        result = await measure_burst(dsn, servers.nats_url, namespace, service, timers=timers)
    log.info(
        "timers: %d of %d published, the last %.2f s after T, p99 lateness %.0f ms",
        result["published"],
        timers,
        result["all_published_within_seconds"] or -1,
        result["publish_lateness"]["p99_ms"],
    )
    return {
        **result,
        "figures": [
            *burst_figures(result),
            figure(
                "collaboration peak RSS (timer burst)",
                result["service_peak_rss_mb"],
                "MB",
                below=200,
            ),
        ],
    }
