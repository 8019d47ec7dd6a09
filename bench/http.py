"""Section: HTTP throughput and latency of every service, each in a process of its own.

Each service gets a realistic mix of what people send it, through the real HTTP stack
(``salesops serve <service>``: uvicorn, the chassis middleware, authentication, the
handlers, PostgreSQL), driven closed-loop by ``concurrency`` workers with one keep-alive
connection each (``bench.loadgen``, cheap so the generator leaves the cores to the
service):

- customers: register a customer (1 in 10), log a follow-up (2 in 10), change the
  decision state (the rest). The goal: >= 1,500 commands/s, p99 < 50 ms.
- tasks: plan a task for one of the rep's customers.
- collaboration: submit a sample request (one tech group, so one SLA timer each).
- notifier: the read endpoints (the operator's delivery list, a rep's own, dead letters).
- metrics: ``GET /indicators`` for the director (the whole company) and for a rep.

Each worker owns its own customers, so no two requests race on one stream (a 409 would
count as an error). The other services learn of customers from the customers service's
events; here their ``known_customers`` tables are seeded directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.loadgen import HttpClient, HttpError, Response
from bench.measure import CpuMeter, Operation, RssSampler, cpu_cost, drive
from bench.report import figure
from bench.servers import Servers, fresh_database, fresh_namespace
from bench.service import ServiceProcess, service_process
from contracts.customers import DecisionState
from salesops.auth import TokenIssuer
from salesops.settings import DEV_JWT_SECRET

log = logging.getLogger(__name__)

GOAL_PER_SECOND = 1500
GOAL_P99_MS = 50.0
GOAL_RSS_MB = 200.0
REP = "rep-zhang-wei"
DIRECTOR = "sd-zhao-guoqiang"
CUSTOMERS_PER_WORKER = 32
STATES = [state.value for state in DecisionState]
SERVICES = ("customers", "tasks", "collaboration", "notifier", "metrics")


def token(person_id: str) -> str:
    return TokenIssuer(DEV_JWT_SECRET, "salesops").mint(person_id)


class Mix:
    """Counts responses by method and status and keeps a few error samples."""

    describe = ""

    def __init__(self, clients: list[HttpClient]) -> None:
        self.clients = clients
        self.statuses: dict[str, int] = {}
        self.error_samples: list[str] = []

    def record(self, method: str, response: Response, expected: int) -> bool:
        key = f"{method} {response.status}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if response.status != expected and len(self.error_samples) < 5:
            self.error_samples.append(f"{key}: {response.body[:300]!r}")
        return response.status == expected

    def failed(self, exc: Exception) -> bool:
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{type(exc).__name__}: {exc}")
        return False

    async def prepare(self) -> None:
        """Whatever must exist before the timed run (each worker's own customers)."""

    async def command(self, worker: int, index: int) -> bool:
        raise NotImplementedError

    def operation(self) -> Operation:
        async def run(worker: int, index: int) -> bool:
            try:
                return await self.command(worker, index)
            except (HttpError, OSError, TimeoutError) as exc:
                return self.failed(exc)

        return run


class CustomersMix(Mix):
    """Register 1 in 10, log a follow-up 2 in 10, change the decision state otherwise."""

    describe = (
        "1 in 10 POST /customers, 2 in 10 POST /customers/{id}/follow-ups,"
        " 7 in 10 PUT /customers/{id}/decision-state (states in turn, so each appends)"
    )

    def __init__(
        self,
        clients: list[HttpClient],
        owned: list[list[str]] | None = None,
        state_now: DecisionState | None = None,
    ) -> None:
        """``owned``: each worker's existing customers (else each registers its own), all
        in ``state_now``."""
        super().__init__(clients)
        self.owned: list[list[str]] = owned or [[] for _ in clients]
        self._base = STATES.index(state_now.value) if state_now is not None else 0
        self._turns = [0] * len(clients)
        #: (customer id, the event's own time) of each command, for the end-to-end lag.
        self.last: dict[int, tuple[str, str]] = {}

    async def register(self, worker: int, index: int) -> str | None:
        response = await self.clients[worker].post(
            "/customers",
            {
                "name": f"Bench Customer {index}",
                "tier": "ABC"[index % 3],
                "estimated_contribution": "150000.00",
            },
        )
        if not self.record("POST /customers", response, 201):
            return None
        row = response.json()
        self.last[worker] = (row["customer_id"], row["registered_at"])
        return str(row["customer_id"])

    def _next_customer(self, worker: int) -> tuple[str, int]:
        owned = self.owned[worker]
        turn = self._turns[worker]
        self._turns[worker] = turn + 1
        return owned[turn % len(owned)], turn // len(owned)

    async def change_state(self, worker: int) -> bool:
        customer_id, lap = self._next_customer(worker)
        # Each lap moves every customer one state on (a PUT of the same state records
        # nothing), starting one to three states past the one it is in; so all four
        # states occur in every lap and every PUT appends an event.
        state = STATES[(self._base + 1 + hash(customer_id) % 3 + lap) % len(STATES)]
        response = await self.clients[worker].put(
            f"/customers/{customer_id}/decision-state", {"state": state}
        )
        if not self.record("PUT decision-state", response, 200):
            return False
        self.last[worker] = (customer_id, response.json()["updated_at"])
        return True

    async def follow_up(self, worker: int) -> bool:
        customer_id, _ = self._next_customer(worker)
        contacted = datetime.now(UTC) - timedelta(minutes=5)
        response = await self.clients[worker].post(
            f"/customers/{customer_id}/follow-ups",
            {
                "kind": "visit",
                "contacted_at": contacted.isoformat(),
                "notes": "张总认可方案，要求下周到厂看产线",
                "competitor_notes": "竞品报价低 8%",
            },
        )
        if not self.record("POST follow-ups", response, 201):
            return False
        self.last[worker] = (customer_id, response.json()["updated_at"])
        return True

    async def prepare(self) -> None:
        """Register each worker's own customers, concurrently (skipped if given)."""
        if all(self.owned):
            return

        async def register(worker: int, index: int) -> bool:
            customer_id = await self.register(worker, index)
            if customer_id is not None:
                self.owned[worker].append(customer_id)
            return customer_id is not None

        workers = len(self.clients)
        result = await drive(register, count=CUSTOMERS_PER_WORKER * workers, concurrency=workers)
        if result.errors:
            raise RuntimeError(f"pre-registration failed: {self.error_samples}")

    async def command(self, worker: int, index: int) -> bool:
        slot = index % 10
        if slot == 9:
            return await self.register(worker, index) is not None
        if slot in (2, 6):
            return await self.follow_up(worker)
        return await self.change_state(worker)


async def seed_known_customers(dsn: str, schema: str, owner: str, count: int) -> list[str]:
    """Customers a service has heard of (as its customer_facts consumer would record)."""
    ids = [f"cus-bench-{i:06d}" for i in range(count)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"INSERT INTO {schema}.known_customers SELECT id, 'Bench ' || id, $2"
            " FROM unnest($1::text[]) AS id ON CONFLICT DO NOTHING",
            ids,
            owner,
        )
    finally:
        await conn.close()
    return ids


class TasksMix(Mix):
    describe = "POST /tasks: plan a visit for one of the rep's customers"

    def __init__(self, clients: list[HttpClient], customers: list[str]) -> None:
        super().__init__(clients)
        self.customers = customers

    async def command(self, worker: int, index: int) -> bool:
        scheduled = datetime.now(UTC) + timedelta(days=1 + index % 5)
        response = await self.clients[worker].post(
            "/tasks",
            {
                "customer_id": self.customers[index % len(self.customers)],
                "kind": "visit",
                "title": "拜访张总，看产线",
                "scheduled_at": scheduled.isoformat(),
            },
        )
        return self.record("POST /tasks", response, 201)


class CollaborationMix(Mix):
    describe = "POST /tickets: a sample request needing one tech group's document"

    def __init__(self, clients: list[HttpClient], customers: list[str]) -> None:
        super().__init__(clients)
        self.customers = customers

    async def command(self, worker: int, index: int) -> bool:
        response = await self.clients[worker].post(
            "/tickets",
            {
                "customer_id": self.customers[index % len(self.customers)],
                "product": "HY-75 空压机",
                "quantity": 2,
                "document_types": ["ce_certification_report"],
            },
        )
        return self.record("POST /tickets", response, 201)


async def seed_deliveries(dsn: str, count: int) -> None:
    """Sent and dead deliveries of several people, as weeks of notifying leave them."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO notifier.deliveries (delivery_id, event_id, event_type, person_id,
                channel, robot_key, recipient, message, urgent, status, attempts,
                next_attempt_at, created_at, sent_at, last_reply)
            SELECT 'dlv-bench-' || i, 'evt-' || i, 'TicketTimedOut',
                   (ARRAY['rep-zhang-wei', 'rep-wang-fang', 'gl-li-na', 'te-luo-bin'])[1 + i % 4],
                   'webhook', 'http://127.0.0.1/hook',
                   '{"person_id": "rep-zhang-wei", "name": "张伟", "address": "x"}',
                   '{"title": "超时", "markdown": "超时", "text": "超时", "html": "超时"}',
                   i % 7 = 0, CASE WHEN i % 50 = 0 THEN 'dead' ELSE 'sent' END, 1,
                   now() - i * interval '1 minute', now() - i * interval '1 minute',
                   now() - i * interval '1 minute', '{"ok": true}'
            FROM generate_series(1, $1) AS i
            """,
            count,
        )
        await conn.execute("ANALYZE notifier.deliveries")
    finally:
        await conn.close()


class NotifierMix(Mix):
    describe = (
        "GET /deliveries?limit=50 as the operator (half), GET /deliveries as a rep"
        " (their own, a quarter), GET /dead-letters as the operator (a quarter)"
    )

    def __init__(self, operators: list[HttpClient], reps: list[HttpClient]) -> None:
        super().__init__(operators)
        self.reps = reps

    async def command(self, worker: int, index: int) -> bool:
        slot = index % 4
        if slot == 1:
            return self.record(
                "GET /deliveries (own)", await self.reps[worker].get("/deliveries?limit=50"), 200
            )
        if slot == 3:
            return self.record(
                "GET /dead-letters", await self.clients[worker].get("/dead-letters"), 200
            )
        response = await self.clients[worker].get("/deliveries?limit=50")
        return self.record("GET /deliveries", response, 200)


class MetricsMix(Mix):
    describe = "GET /indicators?period=2026-01 for the director (whole company) and a rep, in turn"

    def __init__(self, directors: list[HttpClient], reps: list[HttpClient]) -> None:
        super().__init__(directors)
        self.reps = reps

    async def command(self, worker: int, index: int) -> bool:
        clients = self.clients if index % 2 == 0 else self.reps
        response = await clients[worker].get("/indicators?period=2026-01")
        return self.record("GET /indicators", response, 200)


async def seed_metrics(dsn: str, events: int) -> dict[str, Any]:
    """A metrics read model of ``events`` synthetic events (inbox filled, then rebuilt)."""
    from bench.rebuild import prepare_metrics_schema, rebuild_filled

    await prepare_metrics_schema(dsn)
    return await rebuild_filled(dsn, events)


async def _stored_customers(database_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT event_type, count(*) AS n FROM customers.events GROUP BY 1 ORDER BY 1"
        )
        outbox = await conn.fetchval("SELECT count(*) FROM customers.outbox")
    finally:
        await conn.close()
    by_type = {row["event_type"]: int(row["n"]) for row in rows}
    return {
        "events": sum(by_type.values()),
        "events_by_type": by_type,
        "outbox_rows_unpublished_at_end": int(outbox),
    }


def _expected_customers(stored: dict[str, Any], statuses: dict[str, int]) -> dict[str, Any]:
    """Each 201 POST stored one CustomerRegistered, each follow-up one FollowUpLogged, each
    200 PUT one DecisionStateChanged (a NegotiationJoinRequested may come with it)."""
    by_type = stored["events_by_type"]
    checks = {
        "CustomerRegistered": statuses.get("POST /customers 201", 0),
        "FollowUpLogged": statuses.get("POST follow-ups 201", 0),
        "DecisionStateChanged": statuses.get("PUT decision-state 200", 0),
    }
    ok = all(by_type.get(name, 0) == count for name, count in checks.items())
    return {**stored, "expected_by_type": checks, "ok": ok}


async def measure_mix(
    mix: Mix,
    services: list[ServiceProcess],
    *,
    commands: int,
    warmup: int,
    concurrency: int,
) -> dict[str, Any]:
    """Prepare, warm up, then time ``commands`` of the mix with CPU and memory measured."""
    await mix.prepare()
    operation = mix.operation()
    warm = await drive(operation, count=warmup, concurrency=concurrency)
    meter = CpuMeter.for_pids({"service": [service.pid for service in services]})
    async with RssSampler({"service": [service.pid for service in services]}) as rss:
        meter.start()
        result = await drive(operation, count=commands, concurrency=concurrency, start=warmup)
        cpu = meter.stop()
    return {
        **result.summary(),
        "warmup_errors": warm.errors,
        "mix": mix.describe,
        "statuses": mix.statuses,
        "error_samples": mix.error_samples,
        "service_peak_rss_mb": rss.peak_mb()["service"],
        "cpu": cpu,
        **cpu_cost(cpu, result.per_second, processes={"service": len(services)}),
    }


def _clients(services: list[ServiceProcess], person: str, count: int) -> list[HttpClient]:
    bearer = token(person)
    return [HttpClient.for_url(services[i % len(services)].base_url, bearer) for i in range(count)]


Seeder = Callable[[str], Awaitable[Any]]


async def run_service(
    servers: Servers,
    service: str,
    *,
    commands: int,
    warmup: int,
    concurrency: int,
    processes: int = 1,
    seed_size: int = 1000,
    metrics_events: int = 10_000,
) -> dict[str, Any]:
    """One service in ``processes`` processes of its own, driven with its mix."""
    async with (
        fresh_database(servers.admin_dsn) as dsn,
        fresh_namespace(servers.nats_url) as namespace,
        contextlib.AsyncExitStack() as stack,
    ):
        seeded: dict[str, Any] = {}
        if service == "metrics":  # the read model is filled before the service starts
            rebuilt = await seed_metrics(dsn, metrics_events)
            seeded = {"events": rebuilt["events"], "fact_rows": rebuilt["rows_written"]}
        running = [
            await stack.enter_async_context(
                service_process(service, dsn, servers.nats_url, namespace)
            )
            for _ in range(processes)  # one at a time: each migrates and creates streams
        ]
        mix: Mix
        if service == "customers":
            mix = CustomersMix(_clients(running, REP, concurrency))
        elif service in ("tasks", "collaboration"):
            customers = await seed_known_customers(dsn, service, REP, seed_size)
            seeded = {"known_customers": len(customers)}
            cls = TasksMix if service == "tasks" else CollaborationMix
            mix = cls(_clients(running, REP, concurrency), customers)
        elif service == "notifier":
            await seed_deliveries(dsn, seed_size)
            seeded = {"deliveries": seed_size}
            mix = NotifierMix(
                _clients(running, DIRECTOR, concurrency), _clients(running, REP, concurrency)
            )
        elif service == "metrics":
            mix = MetricsMix(
                _clients(running, DIRECTOR, concurrency), _clients(running, REP, concurrency)
            )
        else:
            raise ValueError(f"no mix for {service!r}")
        log.info(
            "http %s: %d process(es), %d requests at concurrency %d",
            service,
            processes,
            commands,
            concurrency,
        )
        try:
            report = await measure_mix(
                mix, running, commands=commands, warmup=warmup, concurrency=concurrency
            )
        finally:
            for client in [*mix.clients, *getattr(mix, "reps", [])]:
                client.close()
        if service == "customers":
            await asyncio.sleep(0.5)  # let the relay catch up before counting
            report["stored"] = _expected_customers(await _stored_customers(dsn), report["statuses"])
        log.info("http %s: %.0f/s, p99 %.1f ms", service, report["per_second"], report["p99_ms"])
    return {"service": service, "service_processes": processes, "seeded": seeded, **report}


def _figures(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for name, result in results.items():
        per_second, p99 = result["per_second"], result["p99_ms"]
        what = "requests" if name in ("notifier", "metrics") else "commands"
        label = name
        if name == "customers":
            rows.append(
                figure(
                    f"{label} {what}/s (c=32)",
                    per_second,
                    "/s",
                    at_least=GOAL_PER_SECOND,
                    limit="transactions",
                )
            )
            rows.append(figure(f"{label} p99", p99, "ms", below=GOAL_P99_MS))
        else:
            rows.append(figure(f"{label} {what}/s (c=32)", per_second, "/s", limit="transactions"))
            rows.append(figure(f"{label} p99", p99, "ms"))
        rows.append(figure(f"{label} p50", result["p50_ms"], "ms"))
        rows.append(figure(f"{label} errors", result["errors"], "", equals=0))
        rows.append(
            figure(f"{label} peak RSS", result["service_peak_rss_mb"], "MB", below=GOAL_RSS_MB)
        )
    return rows


async def run_http(
    servers: Servers,
    *,
    commands: int,
    warmup: int,
    concurrency: int,
    services: tuple[str, ...] = SERVICES,
    seed_size: int = 1000,
    metrics_events: int = 10_000,
    two_processes: bool = False,
) -> dict[str, Any]:
    """Every service in turn, each on its own database and namespace."""
    results: dict[str, dict[str, Any]] = {}
    for service in services:
        # The goal is the customers service's; the others are read at a third of the count.
        count = commands if service == "customers" else max(1, commands // 3)
        results[service] = await run_service(
            servers,
            service,
            commands=count,
            warmup=warmup,
            concurrency=concurrency,
            seed_size=seed_size,
            metrics_events=metrics_events,
        )
    report: dict[str, Any] = {
        "load_generator": "bench.loadgen: asyncio protocol, one keep-alive HTTP/1.1"
        " connection per worker, in the benchmark process",
        **results,
    }
    if two_processes and "customers" in services:
        report["customers_two_processes"] = {
            **await run_service(
                servers,
                "customers",
                commands=commands,
                warmup=warmup,
                concurrency=concurrency,
                processes=2,
            ),
            "note": "optional: two `salesops serve customers` processes on two ports, 16 of"
            " the 32 clients each; not the goal's configuration",
        }
    report["figures"] = _figures(results)
    return report
