"""Section 2: HTTP command throughput and latency of the customers slice, over real processes.

Each load worker owns its own customers, so no two requests ever race on one stream (a
409 would be an error here). A worker's successive decision-state changes to one
customer cycle through the four states, so every PUT appends an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import sys
from typing import Any

import asyncpg
import httpx

from bench.measure import CpuMeter, Operation, cpu_cost, drive
from bench.servers import Servers, fresh_database, fresh_namespace
from bench.service import ServiceProcess, customers_service
from contracts.customers import DecisionState
from salesops.auth import TokenIssuer
from salesops.settings import DEV_JWT_SECRET

log = logging.getLogger(__name__)

GOAL_PER_SECOND = 1500
GOAL_P99_MS = 50.0
ACTOR = "rep-zhang-wei"
CUSTOMERS_PER_WORKER = 32
#: Every n-th command registers a new customer; the others change a decision state.
POST_EVERY = 10
STATES = [state.value for state in DecisionState]


class CommandMix:
    """Mostly PUT decision-state (alternating states), every ``POST_EVERY``-th a POST.

    ``clients`` holds one client per worker.
    """

    def __init__(self, clients: list[httpx.AsyncClient], concurrency: int) -> None:
        self._clients = clients
        self._owned: list[list[str]] = [[] for _ in range(concurrency)]
        self._turns = [0] * concurrency
        self.statuses: dict[str, int] = {}
        self.error_samples: list[str] = []

    def _client(self, worker: int) -> httpx.AsyncClient:
        return self._clients[worker]

    def _record(self, response: httpx.Response, expected: int) -> bool:
        key = f"{response.request.method} {response.status_code}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if response.status_code != expected and len(self.error_samples) < 5:
            self.error_samples.append(f"{key}: {response.text[:300]}")
        return 200 <= response.status_code < 300

    async def register(self, worker: int, index: int) -> str | None:
        response = await self._client(worker).post(
            "/customers",
            json={
                "name": f"Bench Customer {index}",
                "tier": "ABC"[index % 3],
                "estimated_contribution": "150000.00",
            },
        )
        if not self._record(response, 201):
            return None
        return str(response.json()["customer_id"])

    async def change_state(self, worker: int) -> bool:
        owned = self._owned[worker]
        turn = self._turns[worker]
        self._turns[worker] = turn + 1
        customer_id = owned[turn % len(owned)]
        state = STATES[(turn // len(owned)) % len(STATES)]
        response = await self._client(worker).put(
            f"/customers/{customer_id}/decision-state", json={"state": state}
        )
        return self._record(response, 200)

    async def preregister(self, per_worker: int) -> None:
        """Register each worker's own customers, concurrently."""

        async def register(worker: int, index: int) -> bool:
            customer_id = await self.register(worker, index)
            if customer_id is not None:
                self._owned[index % len(self._owned)].append(customer_id)
            return customer_id is not None

        result = await drive(
            register, count=per_worker * len(self._owned), concurrency=len(self._owned)
        )
        if result.errors:
            raise RuntimeError(f"pre-registration failed: {self.error_samples}")

    def operation(self) -> Operation:
        """The command mix as an operation for :func:`bench.measure.drive`."""

        async def command(worker: int, index: int) -> bool:
            try:
                if index % POST_EVERY == POST_EVERY - 1:
                    return await self.register(worker, index) is not None
                return await self.change_state(worker)
            except httpx.HTTPError as exc:
                if len(self.error_samples) < 5:
                    self.error_samples.append(f"{type(exc).__name__}: {exc}")
                return False

        return command


def _quiet_failed_sniffio_imports() -> None:
    """Make httpcore's per-call ``import sniffio`` fail at once instead of searching sys.path.

    httpcore 1.0 imports ``sniffio`` inside ``current_async_library()``, called several
    times per request and per pooled connection. anyio 4.12+ no longer pulls sniffio in,
    so without it every call is a failed import that stats every sys.path entry: about
    a quarter of the load generator's CPU. A ``None`` in ``sys.modules`` fails it at once.
    """
    if importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def _client(service: ServiceProcess, token: str) -> httpx.AsyncClient:
    # One connection per client and one client per worker: httpcore's pool scans every
    # connection (a getpeername and a poll syscall each) on every request, so one pool of
    # 32 connections costs the load generator several times what 32 pools of one do.
    return httpx.AsyncClient(
        base_url=service.base_url,
        headers={"Authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=30.0,
    )


async def _load(
    services: list[ServiceProcess], *, commands: int, warmup: int, concurrency: int
) -> dict[str, Any]:
    _quiet_failed_sniffio_imports()
    token = TokenIssuer(DEV_JWT_SECRET, "salesops").mint(ACTOR)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(_client(services[worker % len(services)], token))
            for worker in range(concurrency)
        ]
        mix = CommandMix(clients, concurrency)
        await mix.preregister(CUSTOMERS_PER_WORKER)
        operation = mix.operation()
        warm = await drive(operation, count=warmup, concurrency=concurrency)
        meter = CpuMeter.for_pids({"service": [service.pid for service in services]})
        meter.start()
        result = await drive(operation, count=commands, concurrency=concurrency, start=warmup)
        cpu = meter.stop()
    summary = result.summary()
    return {
        **summary,
        "warmup_errors": warm.errors,
        "preregistered_customers": CUSTOMERS_PER_WORKER * concurrency,
        "mix": f"1 in {POST_EVERY} POST /customers, the rest PUT /customers/{{id}}/decision-state",
        "load_generator": "httpx.AsyncClient in this process, one client and one keep-alive"
        " HTTP/1.1 connection per worker",
        "service_stack": _service_stack(),
        "statuses": mix.statuses,
        "error_samples": mix.error_samples,
        "cpu": cpu,
        **cpu_cost(cpu, result.per_second, processes={"service": len(services)}),
        "goal_per_second": GOAL_PER_SECOND,
        "goal_p99_ms": GOAL_P99_MS,
        "goal_met": (
            result.errors == 0
            and result.per_second >= GOAL_PER_SECOND
            and summary["p99_ms"] < GOAL_P99_MS
        ),
    }


def _service_stack() -> dict[str, bool]:
    """Whether uvicorn can pick its fast loop and parser (it does when they are installed)."""
    return {name: importlib.util.find_spec(name) is not None for name in ("uvloop", "httptools")}


async def _stored(database_url: str) -> dict[str, Any]:
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


async def run_http(
    servers: Servers, *, commands: int, warmup: int, concurrency: int, processes: int = 1
) -> dict[str, Any]:
    """Drive the customers slice served by ``processes`` ``salesops serve`` processes."""
    async with (
        fresh_database(servers.admin_dsn) as dsn,
        fresh_namespace(servers.nats_url) as namespace,
        contextlib.AsyncExitStack() as stack,
    ):
        services = []
        for _ in range(processes):  # one at a time: each migrates and creates streams
            services.append(
                await stack.enter_async_context(customers_service(dsn, servers.nats_url, namespace))
            )
        log.info(
            "http: %d process(es), %d commands at concurrency %d", processes, commands, concurrency
        )
        report = await _load(services, commands=commands, warmup=warmup, concurrency=concurrency)
        await asyncio.sleep(0.5)  # let the relay catch up before counting
        report["stored"] = _expected(await _stored(dsn), report["statuses"])
        log.info("http: %.0f/s, p99 %.1f ms", report["per_second"], report["p99_ms"])
    return {"service_processes": processes, **report}


def _expected(stored: dict[str, Any], statuses: dict[str, int]) -> dict[str, Any]:
    """Each successful POST stored one CustomerRegistered, each PUT one DecisionStateChanged.

    The slice may record more events (e.g. a negotiation join requested on
    ``intent_confirmed``); those are reported by type but not checked here.
    """
    by_type = stored["events_by_type"]
    checks = {
        "CustomerRegistered": statuses.get("POST 201", 0),
        "DecisionStateChanged": statuses.get("PUT 200", 0),
    }
    ok = all(by_type.get(name, 0) == count for name, count in checks.items())
    return {**stored, "expected_by_type": checks, "ok": ok}
