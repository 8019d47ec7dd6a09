"""A bounded soak: ``python -m bench.soak [--minutes 10] [--rate N] [--sample-seconds 15]``.

Not a test and not part of ``make bench`` (``make soak`` runs it): every service in a
``salesops serve`` process of its own, on a fresh database and NATS namespace, takes mixed
realistic traffic at a steady open-loop rate for a bounded time, and every sample interval
records, per service, what was done and what it cost:

- requests done, errors (a non-2xx the plan did not expect, a transport error, a command
  whose record was never created), p50/p99 latency of the interval;
- consumer lag of every durable JetStream consumer (``num_pending + num_ack_pending``),
  the outbox rows not yet relayed, the RSS and CPU of the process (psutil);
- the notifier's deliveries (pending, sent, dead) and what the local platform fakes
  received, dead letters on ``SALES_DLQ``, the load average.

The traffic is the demo's company (``salesops.demo``): its org directory, its customers and
targets loaded through the public APIs first (the plan's setup, played by the demo's
``Player``), then the plan's commands in their business-time order, one in each of three
slots out of four of a fixed schedule (follow-ups, decision states, next actions, progress
reports and their answers, task planning and evidence — real JPEG photos and PDF proposals,
quotes and the director's concession decisions —, tickets through their stages, ratings,
finance events published on NATS like the ERP's); the fourth slot is a read (the reps'
customer and task lists, the ticket queue, the notifier's deliveries, the dashboard's
``/indicators``, ``/activity`` and ``/sla-board``). Commands of one story (one customer,
task, ticket, report) wait for the one before; everything else goes out on schedule
whatever the latency (open loop).

Business time: the services and the plan share one clock that runs at real speed from the
plan's start (07:30 on the quarter's first working day). So every command of the quarter
lies ahead of "now": follow-ups are logged as just made, deadlines (ticket SLAs, next
actions, report answers) lie hours or days ahead and do not fall due within the soak, and
the notifier's per-robot limits (20 messages a minute for DingTalk and WeCom) count real
minutes. The notifier sends to the demo's local DingTalk, WeCom, Feishu, webhook and SMTP
fakes (``salesops.demo.catchers``), which check signatures the way the platforms do.

The verdict (the exit code says whether the soak passed):

- zero errors, no dead letter, no dead delivery;
- memory: for each service, a line fitted to its RSS over the second half of the run (the
  first half holds the warm-up: connection pools, caches, prepared statements, the read
  models' first pages) must rise less than :data:`RSS_SLOPE_LIMIT_MB` per 10 minutes, and
  the last sample must be within :data:`RSS_LAST_MARGIN_MB` of the half-way one. A leak of
  a few hundred bytes a request would break the first rule at this rate (see
  :func:`judge`); the second catches a late step the fitted line would average away. Runs
  whose second half is shorter than :data:`MEMORY_JUDGED_SECONDS` are not judged on memory;
- consumer lag and outbox bounded: in the second half no consumer is more than
  :data:`LAG_BOUND_SECONDS` of the load's requests behind, and once the load stops every
  consumer and outbox reaches 0 within the drain time.

The notifier's backlog of deliveries waiting for a robot's per-minute window is reported,
not judged: a quarter of work in ten minutes asks the company's one DingTalk robot for far
more than 20 messages a minute, and the notifier holds them back on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil  # type: ignore[import-untyped]
from nats.js import JetStreamContext

from bench.http import SERVICES
from bench.loadgen import IDLE_REUSE_SECONDS, HttpError, Response, _Connection
from bench.measure import percentile
from bench.servers import Servers, bench_servers, fresh_database, fresh_namespace, server_versions
from bench.service import ServiceProcess, service_process
from contracts.subjects import dead_letter_stream_name
from salesops.auth import TokenIssuer
from salesops.clock import AcceleratedClock, SystemClock
from salesops.demo import (
    FULL,
    SMALL,
    Action,
    ClockPacer,
    Command,
    Company,
    CompanyShape,
    FinancePublisher,
    HttpRequest,
    Player,
    QuarterPlan,
    Records,
    generate_company,
    plan_quarter,
    request_for,
)
from salesops.demo.catchers import Catchers, run_catchers
from salesops.demo.commands import SETUP_STORY
from salesops.demo.player import MissingRecord, finance_event
from salesops.embedded import free_port
from salesops.jetstream import connect_nats, ensure_service_stream
from salesops.settings import CommonSettings, load_settings

log = logging.getLogger("bench.soak")

RESULTS = Path(__file__).resolve().parent.parent / "bench-results" / "soak.json"
DEFAULT_MINUTES = 10.0
#: Requests per second, commands and reads together. See README "Soak" for why this one.
DEFAULT_RATE = 100.0
DEFAULT_SAMPLE_SECONDS = 15.0
#: One slot in this many is a read, the others are the plan's commands.
READ_EVERY = 4
SEED = 137
#: The quarter played; business time starts at its first working day, 07:30.
PERIOD = "2026-Q2"
#: After the load: how long the consumers and relays get to catch up.
DRAIN_SECONDS = 60.0
#: Bounded lag: never more than this many seconds of the load's requests behind.
LAG_BOUND_SECONDS = 5.0
#: Memory: the fitted growth over the second half, per 10 minutes, and the last sample's
#: margin over the half-way one.
RSS_SLOPE_LIMIT_MB = 5.0
RSS_LAST_MARGIN_MB = 10.0
#: A second half shorter than this says nothing about a slope of a few MB per 10 minutes.
MEMORY_JUDGED_SECONDS = 120.0
#: Requests in flight per service at most (a stalled service must not open thousands of
#: sockets); a request waiting for one counts that wait in its latency.
CONNECTIONS_PER_SERVICE = 128
REQUEST_TIMEOUT = 30.0
FINANCE = "finance"


# -- the company and its quarter ----------------------------------------------------------


def scaled(shape: CompanyShape, factor: int) -> CompanyShape:
    """``shape`` with ``factor`` times the sales force and market (still six regions)."""
    return CompanyShape(
        groups=tuple(groups * factor for groups in shape.groups),
        reps=shape.reps * factor,
        tech_groups=shape.tech_groups,
        engineers_per_tech_group=shape.engineers_per_tech_group * factor,
        logistics_staff=shape.logistics_staff * factor,
        finance_staff=shape.finance_staff,
        admins=shape.admins,
        distributors=shape.distributors * factor,
        end_customers=shape.end_customers * factor,
    )


def company_and_plan(commands: int, seed: int = SEED) -> tuple[Company, QuarterPlan]:
    """The smallest demo company whose quarter holds ``commands`` commands after its setup.

    The small test company serves a short run; the article's company (137 people, about
    60,000 commands a quarter) a ten-minute one at 100 requests/s; a larger rate or run
    gets the article's company scaled up (more regions' groups, reps and customers).
    """
    shapes = [SMALL, FULL, *(scaled(FULL, factor) for factor in range(2, 9))]
    for shape in shapes:
        company = generate_company(seed, shape)
        plan = plan_quarter(company, seed=seed, period=PERIOD)
        if sum(1 for c in plan.commands if c.story != SETUP_STORY) >= commands:
            return company, plan
    raise ValueError(f"no demo company plans {commands:,} commands in a quarter")


def playable_at_real_speed(commands: Sequence[Command], company: Company) -> list[Command]:
    """The plan's commands after its setup, as the soak can play them.

    The plan answers some progress reports late, by the manager they escalated to 4 h on;
    at real speed no such timer falls due within the soak, so that answer comes from the
    supervisor (the rep's group lead) instead of being refused as not theirs to give.
    """
    filed_by: dict[str, str] = {}
    playable: list[Command] = []
    for command in commands:
        if command.story == SETUP_STORY:
            continue
        if command.action is Action.FILE_PROGRESS_REPORT:
            filed_by[command.story] = command.actor
        elif command.action is Action.ANSWER_PROGRESS_REPORT and command.story in filed_by:
            lead = company.group_of(filed_by[command.story]).lead
            if command.actor != lead:
                command = dataclasses.replace(command, actor=lead)
        playable.append(command)
    return playable


# -- HTTP: keep-alive connections, any number of requests in flight ------------------------


class Pool:
    """Keep-alive HTTP/1.1 connections to one service, each request with its own token.

    ``bench.loadgen.HttpClient`` keeps one connection with one fixed token; here requests go
    out on schedule as whoever gives them, so a request takes an idle connection (the one
    used last, so few stay warm) or opens another, up to ``limit`` at once.
    """

    def __init__(self, base_url: str, limit: int = CONNECTIONS_PER_SERVICE) -> None:
        host, _, port = base_url.removeprefix("http://").rstrip("/").partition(":")
        self.host, self.port = host, int(port or 80)
        self._host = f"Host: {host}:{self.port}\r\n".encode("latin-1")
        self._idle: list[tuple[_Connection, float]] = []
        self._slots = asyncio.Semaphore(limit)
        self.opened = 0

    async def _take(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            connection, used = self._idle.pop()
            # uvicorn closes a connection idle for 5 s: one idle nearly that long is not raced.
            if not connection.closed and now - used < IDLE_REUSE_SECONDS:
                return connection
            _close(connection)
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Connection, self.host, self.port)
        self.opened += 1
        return protocol

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Response:
        head = (
            f"{method} {path} HTTP/1.1\r\n".encode("latin-1")
            + self._host
            + f"Authorization: Bearer {token}\r\n".encode("latin-1")
        )
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n".encode("latin-1")
        head += f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1")
        async with self._slots:
            connection: _Connection | None = None
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    connection = await self._take()
                    status, payload = await connection.send(head + body)
            except BaseException:
                if connection is not None:
                    _close(connection)
                raise
            self._idle.append((connection, time.monotonic()))
        return Response(status, payload)

    def close(self) -> None:
        for connection, _ in self._idle:
            _close(connection)
        self._idle.clear()


def _close(connection: _Connection) -> None:
    if connection.transport is not None:
        connection.transport.close()


def encode(request: HttpRequest) -> tuple[bytes, str | None]:
    """The body and content type of one of the demo's requests.

    Uploads (a photo, a proposal, a quote's form fields) are encoded by httpx, as the demo
    sends them, so the multipart framing and file names are exactly what a client sends.
    """
    if request.files is not None or request.data is not None:
        built = httpx.Request(
            request.method, f"http://soak{request.path}", data=request.data, files=request.files
        )
        return built.read(), built.headers["content-type"]
    if request.content is not None:
        return request.content, request.headers.get("content-type")
    if request.json is not None:
        return orjson.dumps(request.json), "application/json"
    return b"", None


# -- what happened in each interval ---------------------------------------------------------


@dataclass
class Bucket:
    """One service's requests in one interval."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    rejected_as_planned: int = 0

    def summary(self, seconds: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "per_second": round(len(ordered) / seconds, 1) if seconds > 0 else 0.0,
            "errors": self.errors,
            "rejected_as_planned": self.rejected_as_planned,
            "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
            "max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 1),
        }


@dataclass
class Tally:
    """Requests per service, swapped out at every sample; totals and error samples kept."""

    names: Sequence[str]
    buckets: dict[str, Bucket] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    max_delay: float = 0.0
    story_waits: int = 0

    def __post_init__(self) -> None:
        self.buckets = {name: Bucket() for name in self.names}

    def done(self, service: str, label: str, status: int | str, seconds: float, ok: bool) -> None:
        self.statuses[f"{service} {label} {status}"] += 1
        bucket = self.buckets[service]
        bucket.latencies.append(seconds)
        if not ok:
            bucket.errors += 1

    def rejected(self, service: str, label: str, status: int, seconds: float) -> None:
        """Refused as the plan meant it to be (evidence that fails the checks on purpose)."""
        self.statuses[f"{service} {label} {status} (as planned)"] += 1
        bucket = self.buckets[service]
        bucket.latencies.append(seconds)
        bucket.rejected_as_planned += 1

    def failed(self, service: str, label: str, why: str) -> None:
        """An error without a response: transport, timeout, a record never created."""
        self.statuses[f"{service} {label} failed"] += 1
        self.buckets[service].errors += 1
        self.sample_error(f"{service} {label}: {why}")

    def sample_error(self, line: str) -> None:
        if len(self.error_samples) < 30:
            self.error_samples.append(line)
            log.warning("error: %s", line)

    def swap(self) -> tuple[dict[str, Bucket], float, int]:
        buckets, self.buckets = self.buckets, {name: Bucket() for name in self.names}
        delay, self.max_delay = self.max_delay, 0.0
        waits, self.story_waits = self.story_waits, 0
        return buckets, delay, waits


# -- the platforms the notifier sends to ---------------------------------------------------


class CatchersThread:
    """The demo's DingTalk, WeCom, Feishu, webhook and SMTP fakes on an event loop of their
    own, so that serving the notifier never delays a request of the load on this one."""

    def __init__(self, company: Company, folder: Path) -> None:
        self._company = company
        self._folder = folder
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="soak-catchers", daemon=True)
        self.catchers: Catchers | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        directory = self._company.directory
        async with run_catchers(directory, self._folder, inbox_port=free_port()) as catchers:
            self.catchers = catchers
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> CatchersThread:
        self._thread.start()
        self._ready.wait(30)
        if self.catchers is None:
            raise RuntimeError(f"the notification fakes did not start: {self.error}")
        return self

    @property
    def env(self) -> dict[str, str]:
        """The settings that point the notifier at the fakes."""
        assert self.catchers is not None
        return dict(self.catchers.env)

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)

    def received(self) -> dict[str, int]:
        return dict(self.catchers.counts) if self.catchers is not None else {}


# -- the servers' side: lag, outboxes, deliveries, processes ------------------------------


class Probe:
    """Reads what the servers hold: consumer lag, outbox rows, deliveries, dead letters."""

    def __init__(self, conn: asyncpg.Connection, js: JetStreamContext, namespace: str) -> None:
        self.conn = conn
        self.js = js
        self.namespace = namespace
        self.prefix = f"{namespace.upper()}_"
        self._outbox_query = ""

    async def prepare(self) -> None:
        schemas = [
            row["table_schema"]
            for row in await self.conn.fetch(
                "SELECT table_schema FROM information_schema.tables"
                " WHERE table_name = 'outbox' ORDER BY 1"
            )
        ]
        self._outbox_query = " UNION ALL ".join(
            f"SELECT '{schema}' AS service, count(*) AS n FROM {schema}.outbox"
            for schema in schemas
            if schema.isidentifier()
        )

    async def consumer_lag(self) -> dict[str, int]:
        """``num_pending + num_ack_pending`` of every durable consumer, by its name."""
        lag: dict[str, int] = {}
        dead_letters = dead_letter_stream_name(self.namespace)
        for info in await self.js.streams_info():
            name = info.config.name or ""
            if not name.startswith(self.prefix) or name == dead_letters:
                continue
            for consumer in await self.js.consumers_info(name):
                durable = consumer.name or consumer.config.durable_name or "?"
                lag[durable] = int(consumer.num_pending or 0) + int(consumer.num_ack_pending or 0)
        return dict(sorted(lag.items()))

    async def outbox(self) -> dict[str, int]:
        if not self._outbox_query:
            return {}
        rows = await self.conn.fetch(self._outbox_query)
        return {row["service"]: int(row["n"]) for row in rows}

    async def dead_letters(self) -> int:
        try:
            info = await self.js.stream_info(dead_letter_stream_name(self.namespace))
        except Exception:  # not created yet: nothing was dead-lettered
            return 0
        return int(info.state.messages)

    async def deliveries(self) -> dict[str, Any]:
        rows = await self.conn.fetch(
            "SELECT status, channel, count(*) AS n FROM notifier.deliveries GROUP BY 1, 2"
        )
        by_status: Counter[str] = Counter()
        pending_by_channel: Counter[str] = Counter()
        sent_by_channel: Counter[str] = Counter()
        for row in rows:
            by_status[row["status"]] += int(row["n"])
            if row["status"] == "pending":
                pending_by_channel[row["channel"]] += int(row["n"])
            elif row["status"] == "sent":
                sent_by_channel[row["channel"]] += int(row["n"])
        failed = await self.conn.fetchval(
            "SELECT count(*) FROM notifier.delivery_attempts WHERE NOT ok"
        )
        return {
            "by_status": dict(sorted(by_status.items())),
            "pending_by_channel": dict(sorted(pending_by_channel.items())),
            "sent_by_channel": dict(sorted(sent_by_channel.items())),
            "failed_attempts": int(failed),
        }

    async def settled(self) -> bool:
        """Every outbox relayed, then every consumer caught up (in that order: an event in an
        outbox is not yet in any consumer's pending count)."""
        if any((await self.outbox()).values()):
            return False
        return not any((await self.consumer_lag()).values())

    async def wait_settled(self, within: float) -> float | None:
        """Seconds until :meth:`settled`, or None if not within ``within``."""
        began = time.perf_counter()
        while time.perf_counter() - began < within:
            if await self.settled():
                return time.perf_counter() - began
            await asyncio.sleep(0.25)
        return None


class Processes:
    """RSS and CPU of the service processes (and this one, the load generator)."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._processes["load_generator"] = psutil.Process(os.getpid())
        self._cpu = {name: self._cpu_seconds(p) for name, p in self._processes.items()}
        self._at = time.perf_counter()

    @staticmethod
    def _cpu_seconds(process: Any) -> float:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user) + float(times.system)

    def sample(self) -> dict[str, dict[str, float]]:
        now = time.perf_counter()
        elapsed = max(now - self._at, 1e-6)
        found: dict[str, dict[str, float]] = {}
        for name, process in self._processes.items():
            cpu = self._cpu_seconds(process)
            try:
                rss = float(process.memory_info().rss) / 2**20
            except psutil.Error:
                rss = 0.0
            found[name] = {
                "rss_mb": round(rss, 1),
                "cpu_percent": round(100 * (cpu - self._cpu[name]) / elapsed, 1),
            }
            self._cpu[name] = cpu
        self._at = now
        return found


# -- the soak -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    minutes: float = DEFAULT_MINUTES
    rate: float = DEFAULT_RATE
    sample_seconds: float = DEFAULT_SAMPLE_SECONDS
    seed: int = SEED
    drain_seconds: float = DRAIN_SECONDS

    @property
    def seconds(self) -> float:
        return self.minutes * 60

    @property
    def slots(self) -> int:
        return int(self.rate * self.seconds)

    @property
    def commands_needed(self) -> int:
        return self.slots - self.slots // READ_EVERY + 1


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


#: Reads, in turn: (service, label, who reads, path). Who: a role the soak picks a person of.
READS: tuple[tuple[str, str, str, str], ...] = (
    ("metrics", "GET /indicators", "director", "/indicators"),
    ("customers", "GET /customers", "rep", "/customers?owner_id={rep}&limit=50"),
    ("metrics", "GET /activity", "manager", "/activity"),
    ("tasks", "GET /tasks", "rep", "/tasks"),
    ("metrics", "GET /sla-board", "manager", "/sla-board"),
    ("collaboration", "GET /tickets", "engineer", "/tickets?limit=50"),
    ("notifier", "GET /deliveries", "rep", "/deliveries?limit=50"),
    ("customers", "GET /customers/{id}", "owner", "/customers/{customer}"),
    ("metrics", "GET /indicators", "rep", "/indicators"),
    ("collaboration", "GET /sla-board", "lead", "/sla-board"),
)


class Soak:
    """One run: the services, the company loaded, then the schedule, sampled."""

    def __init__(
        self,
        options: Options,
        company: Company,
        plan: QuarterPlan,
        services: Mapping[str, ServiceProcess],
        probe: Probe,
        catchers: CatchersThread,
        publish: FinancePublisher,
        clock: AcceleratedClock,
        issuer: TokenIssuer,
        records: Records,
    ) -> None:
        self.options = options
        self.company = company
        self.plan = plan
        self.services = services
        self.probe = probe
        self.catchers = catchers
        self.publish = publish
        self.clock = clock
        self.issuer = issuer
        self.records = records
        self.pools = {name: Pool(service.base_url) for name, service in services.items()}
        self.tally = Tally([*SERVICES, FINANCE])
        self.processes = Processes({name: s.pid for name, s in services.items()})
        self.samples: list[dict[str, Any]] = []
        self.commands = playable_at_real_speed(plan.commands, company)
        self.dispatched: Counter[str] = Counter()
        self._tokens: dict[str, str] = {}
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._rng = random.Random(options.seed)
        self._people = self._people_by_role()
        self._owned = [
            (spec.owner, spec.external_key)
            for spec in plan.customers
            if spec.external_key in records.customers
        ]
        self._last_sent: dict[str, int] = {}

    def _people_by_role(self) -> dict[str, list[str]]:
        c = self.company
        return {
            "director": [c.sales_director],
            "manager": [region.manager for region in c.regions],
            "lead": [group.lead for group in c.groups],
            "rep": list(c.reps),
            "engineer": [person for group in c.tech_groups for person in group.engineers],
        }

    def token(self, person: str) -> str:
        if person not in self._tokens:
            self._tokens[person] = self.issuer.mint(person, ttl=timedelta(days=1))
        return self._tokens[person]

    # -- one command -----------------------------------------------------------------------

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    def command(self, command: Command) -> None:
        self.dispatched[str(command.action)] += 1
        before = self._tails.get(command.story)
        task = self._spawn(self._command(command, before))
        self._tails[command.story] = task

        def forget(done: asyncio.Task[None], story: str = command.story) -> None:
            if self._tails.get(story) is done:  # the story's last command so far
                del self._tails[story]

        task.add_done_callback(forget)

    async def _command(self, command: Command, before: asyncio.Task[None] | None) -> None:
        if before is not None and not before.done():
            self.tally.story_waits += 1
            with contextlib.suppress(Exception):
                await before
        label = str(command.action)
        if command.action is Action.FINANCE_EVENT:
            await self._finance(command)
            return
        try:
            if command.action is Action.SUBMIT_TASK and "photo" in command.params:
                # Pillow encodes the JPEG: off the event loop, so the schedule holds.
                request, body, content_type = await asyncio.to_thread(self._build, command)
            else:
                request, body, content_type = self._build(command)
        except MissingRecord as exc:
            self.tally.failed(_service_of(command), label, f"{exc} (an earlier command failed)")
            return
        began = time.perf_counter()
        try:
            response = await self.pools[request.service].request(
                request.method,
                request.path,
                token=self.token(command.actor),
                body=body,
                content_type=content_type,
            )
        except (HttpError, OSError, TimeoutError) as exc:
            self.tally.failed(request.service, label, f"{type(exc).__name__}: {exc}")
            return
        seconds = time.perf_counter() - began
        if 200 <= response.status < 300:
            self.tally.done(request.service, label, response.status, seconds, True)
            self._learn(command, response)
        elif command.expect == response.status:
            self.tally.rejected(request.service, label, response.status, seconds)
        else:
            self.tally.done(request.service, label, response.status, seconds, False)
            self.tally.sample_error(
                f"{request.service} {label} by {command.actor} {request.method} {request.path}:"
                f" {response.status} {response.body[:300].decode(errors='replace')}"
            )

    def _build(self, command: Command) -> tuple[HttpRequest, bytes, str | None]:
        request = request_for(command, self.records, self.clock.now())
        body, content_type = encode(request)
        return request, body, content_type

    def _learn(self, command: Command, response: Response) -> None:
        p = command.params
        if command.action is Action.PLAN_TASK:
            self.records.tasks[p["task"]] = response.json()["task_id"]
        elif command.action is Action.SUBMIT_TICKET:
            self.records.tickets[p["ticket"]] = response.json()["ticket_id"]
        elif command.action is Action.FILE_PROGRESS_REPORT:
            self.records.reports[p["report"]] = response.json()["report_id"]

    async def _finance(self, command: Command) -> None:
        label = f"publish {command.params['type']}"
        began = time.perf_counter()
        try:
            event, subject = finance_event(command, self.records)
            await self.publish(event, subject, command.params["key"], self.clock.now())
        except MissingRecord as exc:
            self.tally.failed(FINANCE, label, f"{exc} (an earlier command failed)")
            return
        except Exception as exc:
            self.tally.failed(FINANCE, label, f"{type(exc).__name__}: {exc}")
            return
        self.tally.done(FINANCE, label, "ack", time.perf_counter() - began, True)

    # -- one read --------------------------------------------------------------------------

    def read(self, index: int) -> None:
        service, label, role, template = READS[index % len(READS)]
        self.dispatched[f"read {service} {label}"] += 1
        if role == "owner":
            person, key = self._rng.choice(self._owned)
            path = template.format(customer=self.records.customers[key])
        else:
            person = self._rng.choice(self._people[role])
            path = template.format(rep=person)
        self._spawn(self._read(service, label, person, path))

    async def _read(self, service: str, label: str, person: str, path: str) -> None:
        began = time.perf_counter()
        try:
            response = await self.pools[service].request("GET", path, token=self.token(person))
        except (HttpError, OSError, TimeoutError) as exc:
            self.tally.failed(service, label, f"{type(exc).__name__}: {exc}")
            return
        ok = response.status == 200
        self.tally.done(service, label, response.status, time.perf_counter() - began, ok)
        if not ok:
            self.tally.sample_error(
                f"{service} {label} by {person} GET {path}: {response.status}"
                f" {response.body[:300].decode(errors='replace')}"
            )

    # -- the schedule ----------------------------------------------------------------------

    async def drive(self) -> dict[str, Any]:
        """Slot ``i`` at ``i / rate`` seconds: a read one in :data:`READ_EVERY`, else the
        plan's next command. Then the drain: in-flight requests, then the consumers."""
        options = self.options
        began = time.perf_counter()
        stopping = asyncio.Event()
        sampler = asyncio.create_task(self._sample_every(began, stopping))
        commands = iter(self.commands)
        reads = 0
        exhausted = False
        try:
            for slot in range(options.slots):
                due = began + slot / options.rate
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                else:
                    self.tally.max_delay = max(self.tally.max_delay, -wait)
                if slot % READ_EVERY == READ_EVERY - 1:
                    self.read(reads)
                    reads += 1
                    continue
                command = next(commands, None)
                if command is None:
                    exhausted = True  # the plan is sized so this does not happen
                    continue
                self.command(command)
            load_seconds = time.perf_counter() - began
            in_flight = len(self._in_flight)
            if self._in_flight:
                await asyncio.wait(set(self._in_flight), timeout=REQUEST_TIMEOUT * 2)
        finally:
            # Told, not cancelled: once a cancellation landing in the middle of a sample's
            # queries did not stop the sampler (swallowed somewhere below them), and the
            # soak waited for it for ever.
            stopping.set()
            done, _ = await asyncio.wait({sampler}, timeout=REQUEST_TIMEOUT)
            if not done:
                log.warning("the sampler did not stop within %s s", REQUEST_TIMEOUT)
                sampler.cancel()
        await self.sample(began, phase="load")  # the last partial interval of the load
        drained = await self.probe.wait_settled(options.drain_seconds)
        await self.sample(began, phase="drained")
        return {
            "load_seconds": round(load_seconds, 1),
            "slots": options.slots,
            "reads": reads,
            "in_flight_at_end": in_flight,
            "plan_exhausted": exhausted,
            "drain_seconds": None if drained is None else round(drained, 1),
        }

    async def _sample_every(self, began: float, stopping: asyncio.Event) -> None:
        interval = self.options.sample_seconds
        number = 1
        while True:
            left = max(0.0, began + number * interval - time.perf_counter())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), left)
            if stopping.is_set():
                return
            await self.sample(began, phase="load")
            number += 1

    async def sample(self, began: float, *, phase: str) -> None:
        now = time.perf_counter()
        previous = self.samples[-1]["t"] if self.samples else 0.0
        seconds = max(now - began - previous, 1e-6)
        buckets, delay, waits = self.tally.swap()
        lag = await self.probe.consumer_lag()
        outbox = await self.probe.outbox()
        processes = self.processes.sample()
        deliveries = await self.probe.deliveries()
        sent = deliveries["sent_by_channel"]
        sent_in_interval = {
            channel: count - self._last_sent.get(channel, 0) for channel, count in sent.items()
        }
        self._last_sent = dict(sent)
        services: dict[str, Any] = {}
        for name in [*SERVICES, FINANCE]:
            row = buckets[name].summary(seconds)
            if name != FINANCE:
                own = {durable: n for durable, n in lag.items() if _owner(durable) == name}
                row |= {
                    "consumer_lag": own,
                    "lag_total": sum(own.values()),
                    "outbox": outbox.get(name, 0),
                    **processes[name],
                }
            services[name] = row
        sample: dict[str, Any] = {
            "t": round(now - began, 1),
            "phase": phase,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "business_time": self.clock.now().isoformat(timespec="seconds"),
            "load_average": _load(),
            "interval_seconds": round(seconds, 1),
            "requests_per_second": round(
                sum(len(buckets[name].latencies) for name in buckets) / seconds, 1
            ),
            "max_schedule_delay_ms": round(delay * 1000, 1),
            "story_waits": waits,
            "in_flight": len(self._in_flight),
            "services": services,
            "load_generator": processes["load_generator"],
            "deliveries": {**deliveries, "sent_in_interval": sent_in_interval},
            "platforms_received": self.catchers.received(),
            "dead_letters": await self.probe.dead_letters(),
        }
        self.samples.append(sample)
        log.info(
            "t=%5.0fs %s: %.0f req/s, errors %d, lag %d, outbox %d, RSS %s MB, load %.1f",
            sample["t"],
            phase,
            sample["requests_per_second"],
            sum(services[name]["errors"] for name in services),
            sum(services[name]["lag_total"] for name in SERVICES),
            sum(services[name]["outbox"] for name in SERVICES),
            "/".join(f"{services[name]['rss_mb']:.0f}" for name in SERVICES),
            sample["load_average"][0],
        )

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()


def _service_of(command: Command) -> str:
    from salesops.demo.player import SERVICE_OF

    service = SERVICE_OF[command.action]
    return FINANCE if service == "nats" else service


def _owner(durable: str) -> str:
    """The service a durable consumer belongs to: its name's first part (``tasks_...``)."""
    return durable.split("_", 1)[0]


# -- the verdict ---------------------------------------------------------------------------


def fit_slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` points (0 for fewer than two distinct x)."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def judge(samples: Sequence[Mapping[str, Any]], options: Options) -> dict[str, Any]:
    """Whether the soak passed, and each rule's figures.

    Memory: over the second half of the load, RSS fitted to a line in MB per 10 minutes
    must stay under :data:`RSS_SLOPE_LIMIT_MB`; at 100 requests/s (about 20 a second per
    service) 5 MB per 10 minutes is about 400 bytes a request, so a leak of anything
    retained per request (a response, a span, an event) fails it; and the last sample must
    be within :data:`RSS_LAST_MARGIN_MB` of the half-way one.
    """
    load = [s for s in samples if s["phase"] == "load"]
    final = samples[-1] if samples else None
    total = load[-1]["t"] if load else 0.0
    half = [s for s in load if s["t"] >= total / 2]
    errors = {
        name: sum(s["services"][name]["errors"] for s in samples) for name in [*SERVICES, FINANCE]
    }
    dead_letters = final["dead_letters"] if final else 0
    deliveries = final["deliveries"] if final else {}
    dead_deliveries = deliveries.get("by_status", {}).get("dead", 0)
    failed_attempts = deliveries.get("failed_attempts", 0)
    no_errors = (
        sum(errors.values()) == 0
        and dead_letters == 0
        and dead_deliveries == 0
        and failed_attempts == 0
    )

    span = (half[-1]["t"] - half[0]["t"]) if len(half) >= 2 else 0.0
    judged = span >= MEMORY_JUDGED_SECONDS and len(half) >= 4
    memory: dict[str, Any] = {}
    for name in SERVICES:
        points = [(s["t"] / 60, s["services"][name]["rss_mb"]) for s in half]
        slope = fit_slope(points) * 10  # MB per 10 minutes
        first, last = (points[0][1], points[-1][1]) if points else (0.0, 0.0)
        ok = slope < RSS_SLOPE_LIMIT_MB and last - first <= RSS_LAST_MARGIN_MB
        memory[name] = {
            "rss_first_mb": load[0]["services"][name]["rss_mb"] if load else None,
            "rss_half_way_mb": first,
            "rss_last_mb": last,
            "rss_peak_mb": max((s["services"][name]["rss_mb"] for s in load), default=0.0),
            "slope_mb_per_10_min": round(slope, 2),
            "ok": ok if judged else None,
        }
    memory_ok = all(m["ok"] for m in memory.values()) if judged else None

    bound = LAG_BOUND_SECONDS * options.rate
    lag: dict[str, Any] = {}
    for name in SERVICES:
        in_half = [s["services"][name]["lag_total"] for s in half]
        outbox_half = [s["services"][name]["outbox"] for s in half]
        points = [(s["t"] / 60, float(s["services"][name]["lag_total"])) for s in half]
        at_end = final["services"][name] if final else {}
        lag[name] = {
            "max_lag_second_half": max(in_half, default=0),
            "max_lag_run": max((s["services"][name]["lag_total"] for s in load), default=0),
            "lag_slope_per_minute_second_half": round(fit_slope(points), 1),
            "max_outbox_second_half": max(outbox_half, default=0),
            "lag_after_drain": at_end.get("lag_total", 0),
            "outbox_after_drain": at_end.get("outbox", 0),
        }
        lag[name]["ok"] = (
            lag[name]["max_lag_second_half"] <= bound
            and lag[name]["max_outbox_second_half"] <= bound
            and lag[name]["lag_after_drain"] == 0
            and lag[name]["outbox_after_drain"] == 0
        )
    lag_ok = all(row["ok"] for row in lag.values())
    passed = no_errors and lag_ok and memory_ok is not False
    return {
        "passed": passed,
        "errors": {
            "ok": no_errors,
            "requests": errors,
            "dead_letters": dead_letters,
            "dead_deliveries": dead_deliveries,
            "failed_delivery_attempts": failed_attempts,
        },
        "memory": {
            "ok": memory_ok,
            "rule": f"second half: fitted RSS growth < {RSS_SLOPE_LIMIT_MB:g} MB per 10 min"
            f" and last sample <= half-way sample + {RSS_LAST_MARGIN_MB:g} MB"
            + ("" if judged else f" (not judged: second half under {MEMORY_JUDGED_SECONDS:g} s)"),
            "services": memory,
        },
        "lag": {
            "ok": lag_ok,
            "rule": f"second half: every service's consumer lag and outbox <= {bound:,.0f}"
            f" ({LAG_BOUND_SECONDS:g} s of the load's requests); 0 after the drain",
            "services": lag,
        },
    }


# -- the report ----------------------------------------------------------------------------


def table(samples: Sequence[Mapping[str, Any]]) -> str:
    """Per service, one row per sample: throughput, latency, errors, lag, outbox, memory."""
    out: list[str] = []
    head = ("t s", "req/s", "p50 ms", "p99 ms", "errors", "lag", "outbox", "RSS MB", "CPU %")
    for name in SERVICES:
        rows = [head]
        for s in samples:
            row = s["services"][name]
            rows.append(
                (
                    f"{s['t']:.0f}" + ("*" if s["phase"] != "load" else ""),
                    f"{row['per_second']:.1f}",
                    f"{row['p50_ms']:.1f}",
                    f"{row['p99_ms']:.1f}",
                    str(row["errors"]),
                    str(row["lag_total"]),
                    str(row["outbox"]),
                    f"{row['rss_mb']:.1f}",
                    f"{row['cpu_percent']:.0f}",
                )
            )
        out += [f"\n{name}", *_aligned(rows)]
    rows = [("t s", "req/s", "late ms", "load", "finance/s", "pending", "sent", "received", "DLQ")]
    for s in samples:
        deliveries = s["deliveries"]
        rows.append(
            (
                f"{s['t']:.0f}" + ("*" if s["phase"] != "load" else ""),
                f"{s['requests_per_second']:.1f}",
                f"{s['max_schedule_delay_ms']:.0f}",
                f"{s['load_average'][0]:.2f}",
                f"{s['services'][FINANCE]['per_second']:.1f}",
                str(deliveries["by_status"].get("pending", 0)),
                str(sum(deliveries["sent_in_interval"].values())),
                str(sum(s["platforms_received"].values())),
                str(s["dead_letters"]),
            )
        )
    out += ["\nall (pending/sent: notifier deliveries; received: by the platform fakes)"]
    out += _aligned(rows)
    out.append("(* after the load, once the consumers and outboxes drained)")
    return "\n".join(out)


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]


def verdict_lines(verdict: Mapping[str, Any]) -> list[str]:
    lines = [f"soak {'PASSED' if verdict['passed'] else 'FAILED'}"]
    errors = verdict["errors"]
    lines.append(
        f"  errors: {'ok' if errors['ok'] else 'NO'} — requests {errors['requests']},"
        f" dead letters {errors['dead_letters']}, dead deliveries {errors['dead_deliveries']},"
        f" failed delivery attempts {errors['failed_delivery_attempts']}"
    )
    memory = verdict["memory"]
    shown = {None: "not judged", True: "ok", False: "NO"}[memory["ok"]]
    lines.append(f"  memory: {shown} — {memory['rule']}")
    for name, row in memory["services"].items():
        lines.append(
            f"    {name}: {row['rss_first_mb']} -> {row['rss_half_way_mb']} -> {row['rss_last_mb']}"
            f" MB (peak {row['rss_peak_mb']}), {row['slope_mb_per_10_min']:+.2f} MB/10 min"
        )
    lag = verdict["lag"]
    lines.append(f"  lag: {'ok' if lag['ok'] else 'NO'} — {lag['rule']}")
    for name, row in lag["services"].items():
        lines.append(
            f"    {name}: max {row['max_lag_run']} (second half {row['max_lag_second_half']},"
            f" {row['lag_slope_per_minute_second_half']:+.1f}/min), outbox max"
            f" {row['max_outbox_second_half']}; after the drain lag {row['lag_after_drain']},"
            f" outbox {row['outbox_after_drain']}"
        )
    return lines


# -- running it ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_services(
    dsn: str, nats_url: str, namespace: str, env: Mapping[str, str], notifier_env: Mapping[str, str]
) -> AsyncIterator[dict[str, ServiceProcess]]:
    """All five services, started side by side (each migrates its own schema)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(name: str) -> ServiceProcess:
            own = {**env, **(notifier_env if name == "notifier" else {})}
            return await stack.enter_async_context(
                service_process(name, dsn, nats_url, namespace, env=own)
            )

        started = await asyncio.gather(*(start(name) for name in SERVICES), return_exceptions=True)
        for result in started:
            if isinstance(result, BaseException):
                raise result
        yield {
            name: s
            for name, s in zip(SERVICES, started, strict=True)
            if isinstance(s, ServiceProcess)
        }


async def load_company(
    plan: QuarterPlan,
    services: Mapping[str, ServiceProcess],
    issuer: TokenIssuer,
    clock: AcceleratedClock,
    publish: FinancePublisher,
    probe: Probe,
) -> tuple[Records, dict[str, Any]]:
    """The plan's setup through the public APIs, as the demo does it (targets, the CRM
    imports, the ERP's backlog), then until every consumer has caught up."""
    began = time.perf_counter()
    clients = {
        name: httpx.AsyncClient(base_url=s.base_url, timeout=120) for name, s in services.items()
    }
    try:
        player = Player(
            clients,
            lambda person: issuer.mint(person, ttl=timedelta(days=1)),
            ClockPacer(clock),
            publish=publish,
            concurrency=16,
        )
        stats = await player.play([c for c in plan.commands if c.story == SETUP_STORY])
    finally:
        for client in clients.values():
            await client.aclose()
    if stats.failure_count:
        raise RuntimeError(f"loading the company failed: {stats.failures[:5]}")
    settled = await probe.wait_settled(300)
    if settled is None:
        raise RuntimeError("the consumers did not catch up with the company's setup in 5 min")
    return player.records, {
        "commands": stats.total,
        "customers": len(player.records.customers),
        "seconds": round(time.perf_counter() - began, 1),
        "consumers_caught_up_after_s": round(settled, 1),
    }


async def run(servers: Servers, options: Options) -> dict[str, Any]:
    """The whole soak; the report (``report["verdict"]["passed"]`` says how it went)."""
    started_at = datetime.now(UTC)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": _load(),
        **await server_versions(servers),
    }
    planning = time.perf_counter()
    company, plan = await asyncio.to_thread(company_and_plan, options.commands_needed, options.seed)
    log.info(
        "%s: %d people, %d customers; %d commands planned (%d needed), in %.1f s",
        company.name,
        len(company.mapping["people"]),
        len(plan.customers),
        len(plan.commands),
        options.commands_needed,
        time.perf_counter() - planning,
    )
    settings = load_settings(CommonSettings)
    issuer = TokenIssuer(settings.jwt_secret, settings.jwt_issuer, SystemClock())
    anchor = datetime.now(UTC)
    clock = AcceleratedClock(plan.start, 1.0, anchor=anchor)
    with tempfile.TemporaryDirectory(prefix="salesops-soak-") as folder_name:
        folder = Path(folder_name)
        (folder / "org.yaml").write_text(company.org_yaml(), encoding="utf-8")
        env = {
            "SALESOPS_ORG_FILE": str(folder / "org.yaml"),
            "SALESOPS_DATA_DIR": str(folder / "data"),
            # Business time from the plan's start at real speed, in every process alike.
            "SALESOPS_CLOCK_START": plan.start.isoformat(),
            "SALESOPS_CLOCK_SPEED": "1",
            "SALESOPS_CLOCK_ANCHOR": anchor.isoformat(),
        }
        with CatchersThread(company, folder) as fakes:
            async with (
                fresh_database(servers.admin_dsn) as dsn,
                fresh_namespace(servers.nats_url) as namespace,
                running_services(dsn, servers.nats_url, namespace, env, fakes.env) as services,
            ):
                log.info("services ready: %s", ", ".join(services))
                nc = await connect_nats(servers.nats_url, name="salesops-soak")
                conn = await asyncpg.connect(dsn)
                try:
                    js = nc.jetstream()
                    await ensure_service_stream(js, "finance", namespace)
                    probe = Probe(conn, js, namespace)
                    await probe.prepare()
                    publish = FinancePublisher(js, namespace)
                    records, setup = await load_company(
                        plan, services, issuer, clock, publish, probe
                    )
                    log.info(
                        "company loaded: %d customers in %.0f s; %.0f requests/s for %.1f min",
                        setup["customers"],
                        setup["seconds"],
                        options.rate,
                        options.minutes,
                    )
                    soak = Soak(
                        options,
                        company,
                        plan,
                        services,
                        probe,
                        fakes,
                        publish,
                        clock,
                        issuer,
                        records,
                    )
                    try:
                        outcome = await soak.drive()
                    finally:
                        soak.close()
                finally:
                    await conn.close()
                    await nc.close()
    verdict = judge(soak.samples, options)
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "options": {
            "minutes": options.minutes,
            "rate_per_second": options.rate,
            "sample_seconds": options.sample_seconds,
            "reads": f"1 slot in {READ_EVERY}",
            "seed": options.seed,
            "period": PERIOD,
        },
        "machine": {**machine, "load_average_at_end": _load()},
        "company": {
            "name": company.name,
            "people": len(company.mapping["people"]),
            "reps": len(company.reps),
            "customers": len(plan.customers),
            "commands_planned": len(plan.commands),
        },
        "setup": setup,
        "outcome": outcome,
        "dispatched": dict(soak.dispatched.most_common()),
        "statuses": dict(sorted(soak.tally.statuses.items())),
        "error_samples": soak.tally.error_samples,
        "connections_opened": {name: pool.opened for name, pool in soak.pools.items()},
        "samples": soak.samples,
        "verdict": verdict,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="requests/s in total")
    parser.add_argument("--sample-seconds", type=float, default=DEFAULT_SAMPLE_SECONDS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--drain-seconds", type=float, default=DRAIN_SECONDS)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="soak: %(message)s")
    for noisy in ("httpx", "httpcore", "uvicorn", "uvicorn.access", "uvicorn.error", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    options = Options(
        minutes=args.minutes,
        rate=args.rate,
        sample_seconds=args.sample_seconds,
        seed=args.seed,
        drain_seconds=args.drain_seconds,
    )
    with bench_servers() as servers:
        report = asyncio.run(run(servers, options))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    print(table(report["samples"]))
    print()
    print("\n".join(verdict_lines(report["verdict"])))
    print(f"written to {args.output}")
    return 0 if report["verdict"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
