"""Playing a planned quarter through the services' public HTTP APIs, in business time order.

Each command is sent as the person who gives it (a bearer token minted for them) when the
clock reaches its instant: a :class:`ClockPacer` sleeps until an accelerated (or the real)
clock gets there, a :class:`ManualPacer` moves a test's manual clock and fires the timers
that fall due on the way. Commands of one story run one after the other, different stories
side by side (at most ``concurrency`` requests at a time). The records the services create
are learnt from their answers (customer, task, ticket and report ids); finance events are
published on NATS like an ERP would, in the CloudEvents envelope.

The benchmark drives the same commands: :func:`request_for` says what HTTP request each one
is, :class:`Player` sends them and counts what happened.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from nats.js import JetStreamContext

from contracts.base import IntegrationEvent
from contracts.envelope import Envelope
from contracts.finance import InvoiceIssued, OrderPlaced, PaymentReceived
from salesops.clock import AcceleratedClock, Clock, ManualClock
from salesops.demo.commands import SETUP_STORY, Action, Command
from salesops.demo.evidence import proposal_pdf, visit_photo
from salesops.demo.quarter import TIMEZONE

log = logging.getLogger(__name__)

#: Commands on one customer's record of table 1 (or its progress reports).
_CUSTOMER_RECORD_ACTIONS = frozenset(
    {
        Action.LOG_FOLLOW_UP,
        Action.CHANGE_DECISION_STATE,
        Action.CONFIRM_NEGOTIATION_JOIN,
        Action.COMMIT_NEXT_ACTION,
        Action.COMPLETE_NEXT_ACTION,
        Action.FILE_PROGRESS_REPORT,
        Action.ANSWER_PROGRESS_REPORT,
    }
)
#: Where each action is sent.
SERVICE_OF: Mapping[Action, str] = {
    **{
        a: "customers"
        for a in (
            Action.ALLOCATE_TARGET,
            Action.IMPORT_CUSTOMERS,
            Action.SYNC_CUSTOMERS,
            *_CUSTOMER_RECORD_ACTIONS,
        )
    },
    **{a: "tasks" for a in (Action.PLAN_TASK, Action.SUBMIT_TASK, Action.DECIDE_CONCESSION)},
    **{
        a: "collaboration"
        for a in (
            Action.SUBMIT_TICKET,
            Action.ANSWER_TICKET,
            Action.SUPPLY_INFO,
            Action.START_STOCKING,
            Action.SHIP_TICKET,
            Action.CONFIRM_RECEIPT,
            Action.RATE_TICKET,
        )
    },
    Action.FINANCE_EVENT: "nats",
}
#: Setup commands that do not depend on one another: each region's import, the ERP's backlog.
_SIDE_BY_SIDE = frozenset({Action.IMPORT_CUSTOMERS, Action.FINANCE_EVENT})
_IMPORT_COLUMNS = (
    "external_key",
    "name",
    "tier",
    "owner_id",
    "org_unit_id",
    "estimated_contribution",
    "last_contact_at",
)
_FINANCE_EVENTS: Mapping[str, type[IntegrationEvent]] = {
    "InvoiceIssued": InvoiceIssued,
    "PaymentReceived": PaymentReceived,
    "OrderPlaced": OrderPlaced,
}
#: Ids of the demo's finance events: the same plan publishes the same event ids, so
#: JetStream's duplicate window drops a republished one.
_EVENT_IDS = uuid.UUID("6b1c0f5e-4d3a-5b2c-9e8f-7a6b5c4d3e2f")


class Pacer(Protocol):
    """Business time, and a way to wait for an instant of it."""

    def now(self) -> datetime: ...

    async def until(self, when: datetime) -> None: ...


class ClockPacer:
    """Waits in real time until a clock (the wall clock or an accelerated one) reaches ``when``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()

    async def until(self, when: datetime) -> None:
        while (now := self.clock.now()) < when:
            if isinstance(self.clock, AcceleratedClock):
                wait = self.clock.wall_seconds_until(when)
            else:
                wait = (when - now).total_seconds()
            await asyncio.sleep(min(max(wait, 0.001), 1.0))


class ManualPacer:
    """Moves a manual clock to ``when`` in steps, firing due timers after each step (tests).

    Steps keep timers from firing hours late: a ticket's 2 h window is found overdue within
    ``step`` of its due time, as a poller would.
    """

    def __init__(
        self,
        clock: ManualClock,
        on_advance: Callable[[datetime], Awaitable[None]],
        *,
        step: timedelta = timedelta(minutes=15),
    ) -> None:
        self.clock = clock
        self.on_advance = on_advance
        self.step = step

    def now(self) -> datetime:
        return self.clock.now()

    async def until(self, when: datetime) -> None:
        while self.clock.now() < when:
            self.clock.set(min(when, self.clock.now() + self.step))
            await self.on_advance(self.clock.now())


@dataclass
class PlayStats:
    """What happened to the commands sent so far."""

    total: int = 0
    sent: int = 0
    ok: Counter[str] = field(default_factory=Counter)
    #: Rejected as the plan meant them to be (evidence that fails the checks on purpose).
    rejected_as_planned: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    #: Commands whose record was never created (an earlier command of the story failed).
    skipped: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    #: Real seconds spent on each action (summed over concurrent commands).
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    #: How far behind business time the player dispatched its latest / slowest command.
    lag: timedelta = timedelta(0)
    max_lag: timedelta = timedelta(0)
    failures: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(self.ok.values()) + sum(self.rejected_as_planned.values()) + self.failure_count

    @property
    def failure_count(self) -> int:
        return sum(self.failed.values()) + sum(self.skipped.values())

    def line(self) -> str:
        return (
            f"{self.done:,}/{self.total:,} commands, {sum(self.ok.values()):,} ok, "
            f"{sum(self.rejected_as_planned.values()):,} rejected as planned, "
            f"{self.failure_count:,} failed, lag {self.lag.total_seconds() / 60:.0f} min"
        )


class MissingRecord(LookupError):
    """A command names a record an earlier command should have created but did not."""


@dataclass(frozen=True)
class HttpRequest:
    """One request to one service: what :func:`request_for` makes of a command."""

    service: str
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None


@dataclass
class Records:
    """The ids the services gave the plan's records, by plan key."""

    customers: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, str] = field(default_factory=dict)
    tickets: dict[str, str] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def _get(found: Mapping[str, str], key: str, what: str) -> str:
        if key not in found:
            raise MissingRecord(f"{what} {key} was not created")
        return found[key]

    def customer(self, key: str) -> str:
        return self._get(self.customers, key, "customer")

    def task(self, key: str) -> str:
        return self._get(self.tasks, key, "task")

    def ticket(self, key: str) -> str:
        return self._get(self.tickets, key, "ticket")

    def report(self, key: str) -> str:
        return self._get(self.reports, key, "progress report")


def import_csv(rows: Sequence[Mapping[str, str]]) -> bytes:
    """The CRM export a manager uploads: UTF-8 CSV with the import's column names."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_IMPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _photo(params: Mapping[str, Any]) -> bytes:
    captured = params["captured_at"]
    return visit_photo(
        captured_at=datetime.fromisoformat(captured) if captured else None,
        tz=TIMEZONE,
        device_serial=params["device"],
        label=params["label"],
    )


def request_for(command: Command, records: Records, now: datetime) -> HttpRequest:
    """The HTTP request that carries out ``command`` at business time ``now``.

    Raises :class:`MissingRecord` when the command's record was never created.
    """
    p, a = command.params, command.action
    service = SERVICE_OF[a]

    def req(method: str, path: str, **kw: Any) -> HttpRequest:
        return HttpRequest(service, method, path, **kw)

    if a is Action.ALLOCATE_TARGET:
        body = {k: p[k] for k in ("parent_id", "shares", "rationale")}
        if p["parent_amount"] is not None:
            body["parent_amount"] = p["parent_amount"]
        return req("POST", f"/targets/{p['period']}/allocations", json=body)
    if a is Action.IMPORT_CUSTOMERS:
        return req(
            "POST",
            "/customers/import",
            content=import_csv(p["rows"]),
            headers={"content-type": "text/csv; charset=utf-8"},
        )
    if a in _CUSTOMER_RECORD_ACTIONS:
        return _customer_request(command, records, now)
    if a is Action.PLAN_TASK:
        body = {
            "customer_id": records.customer(p["customer"]),
            "kind": p["kind"],
            "title": p["title"],
            "scheduled_at": p["scheduled_at"],
        }
        return req("POST", "/tasks", json=body)
    if a is Action.SUBMIT_TASK:
        path = f"/tasks/{records.task(p['task'])}/submission"
        if "photo" in p:
            files = {"file": (f"visit-{p['task']}.jpg", _photo(p["photo"]), "image/jpeg")}
            return req("POST", path, files=files)
        if "pdf" in p:
            pdf = proposal_pdf(title=p["pdf"]["title"], lines=p["pdf"]["lines"])
            return req(
                "POST", path, files={"file": (p["pdf"]["file_name"], pdf, "application/pdf")}
            )
        if "target_price" in p:
            return req(
                "POST",
                path,
                data={"target_price": p["target_price"], "deal_price": p["deal_price"]},
            )
        return req("POST", path, data={"note": p["note"]})
    if a is Action.DECIDE_CONCESSION:
        body = {"decision": p["decision"], "reason": p["reason"]}
        return req("POST", f"/tasks/{records.task(p['task'])}/concession-decision", json=body)
    return _ticket_request(command, records)


def _customer_request(command: Command, records: Records, now: datetime) -> HttpRequest:
    p, a = command.params, command.action

    def req(method: str, path: str, **kw: Any) -> HttpRequest:
        return HttpRequest("customers", method, path, **kw)

    if a is Action.ANSWER_PROGRESS_REPORT:
        body = {"answer": p["answer"], "note": p["note"]}
        return req("POST", f"/progress-reports/{records.report(p['report'])}/answer", json=body)
    base = f"/customers/{records.customer(p['customer'])}"
    if a is Action.LOG_FOLLOW_UP:
        # Never "in the future" for the service, should the player's clock read a hair ahead.
        contacted = min(datetime.fromisoformat(p["contacted_at"]), now - timedelta(seconds=1))
        body = {
            "kind": p["kind"],
            "contacted_at": contacted.isoformat(),
            "notes": p["notes"],
            "competitor_notes": p["competitor_notes"],
            "decision_chain_change": p["decision_chain_change"],
        }
        return req("POST", f"{base}/follow-ups", json=body)
    if a is Action.CHANGE_DECISION_STATE:
        return req("PUT", f"{base}/decision-state", json={"state": p["state"]})
    if a is Action.CONFIRM_NEGOTIATION_JOIN:
        return req("POST", f"{base}/negotiation-join/confirm")
    if a is Action.COMMIT_NEXT_ACTION:
        # A player running behind still commits a due time ahead (the service insists).
        due = max(datetime.fromisoformat(p["due_at"]), now + timedelta(hours=1))
        body = {"kind": p["kind"], "description": p["description"], "due_at": due.isoformat()}
        return req("PUT", f"{base}/next-action", json=body)
    if a is Action.COMPLETE_NEXT_ACTION:
        return req("POST", f"{base}/next-action/complete")
    body = {k: p[k] for k in ("key_action", "obstacle", "support_needed")}
    return req("POST", f"{base}/progress-reports", json=body)


def _ticket_request(command: Command, records: Records) -> HttpRequest:
    p, a = command.params, command.action

    def req(method: str, path: str, **kw: Any) -> HttpRequest:
        return HttpRequest("collaboration", method, path, **kw)

    if a is Action.SUBMIT_TICKET:
        body = {
            "customer_id": records.customer(p["customer"]),
            "product": p["product"],
            "quantity": p["quantity"],
            "document_types": p["document_types"],
            "note": p["note"],
        }
        return req("POST", "/tickets", json=body)
    base = f"/tickets/{records.ticket(p['ticket'])}"
    if a is Action.ANSWER_TICKET:
        body = {"answer": p["answer"], "missing_items": p["missing_items"]}
        return req("POST", f"{base}/tech/{p['team']}/answer", json=body)
    if a is Action.SUPPLY_INFO:
        return req("POST", f"{base}/tech/{p['team']}/info", json={"info": p["info"]})
    if a is Action.START_STOCKING:
        return req("POST", f"{base}/stocking")
    if a is Action.SHIP_TICKET:
        return req("POST", f"{base}/shipment", json={"tracking": p["tracking"]})
    if a is Action.CONFIRM_RECEIPT:
        return req("POST", f"{base}/receipt")
    if a is Action.RATE_TICKET:
        return req("POST", f"{base}/rating", json={"stars": p["stars"], "comment": p["comment"]})
    raise ValueError(f"no HTTP request for {a}")


def finance_event(command: Command, records: Records) -> tuple[IntegrationEvent, str]:
    """The finance event a command publishes and its subject id (invoice, payment, order)."""
    p = command.params
    model = _FINANCE_EVENTS[p["type"]]
    data = {**p["data"], "customer_id": records.customer(p["customer"])}
    event = model.model_validate(data)
    subject = next(str(v) for k, v in data.items() if k.endswith("_id") and k != "customer_id")
    return event, subject


class FinancePublisher:
    """Publishes finance events as an ERP would: on ``sales.finance.<event>``, enveloped."""

    def __init__(self, js: JetStreamContext, namespace: str = "") -> None:
        self.js = js
        self.namespace = namespace

    async def __call__(self, event: IntegrationEvent, subject: str, key: str, at: datetime) -> None:
        envelope = Envelope.for_event(
            event,
            event_id=uuid.uuid5(_EVENT_IDS, key),
            subject_id=subject,
            time=at,
            actor="erp",
            stream_version=1,
            correlation_id=key,
            namespace=self.namespace,
        )
        await self.js.publish(
            envelope.type, envelope.to_json_bytes(), headers=envelope.nats_headers()
        )


Publish = Callable[[IntegrationEvent, str, str, datetime], Awaitable[None]]


class Player:
    """Sends a plan's commands to the services as their people, in business time order."""

    def __init__(
        self,
        clients: Mapping[str, httpx.AsyncClient],
        mint: Callable[[str], str],
        pacer: Pacer,
        *,
        publish: Publish | None = None,
        concurrency: int = 12,
        wait_for_known_customers: float = 60.0,
        customers_known: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.clients = clients
        self.mint = mint
        self.pacer = pacer
        self.publish = publish
        self.concurrency = concurrency
        self.wait_for_known_customers = wait_for_known_customers
        #: Waits (given how many customers were imported) until tasks and collaboration have
        #: learnt them; without it, their first commands are retried until they have.
        self.customers_known = customers_known
        self.records = Records()
        self.stats = PlayStats()
        #: Whether the setup story (targets, imports, the ERP's backlog) has been played.
        self.setup_done = False
        self._tokens: dict[str, dict[str, str]] = {}

    def auth(self, person_id: str) -> dict[str, str]:
        if person_id not in self._tokens:
            self._tokens[person_id] = {"Authorization": f"Bearer {self.mint(person_id)}"}
        return self._tokens[person_id]

    async def play(self, commands: Sequence[Command]) -> PlayStats:
        """Play ``commands`` (sorted by time); the setup story first, then everything else."""
        ordered = sorted(commands, key=lambda c: c.sort_key)
        self.stats.total += len(ordered)
        setup = (c for c in ordered if c.story == SETUP_STORY)
        for action, group in itertools.groupby(setup, key=lambda c: c.action):
            batch = list(group)
            await self.pacer.until(batch[0].at)
            if action in _SIDE_BY_SIDE:
                await self._side_by_side(batch)
            else:  # a target split builds on its parent's; the sync on every import
                for command in batch:
                    await self.run(command)
        self.setup_done = True
        slots = asyncio.Semaphore(self.concurrency)
        tails: dict[str, asyncio.Task[None]] = {}
        for command in (c for c in ordered if c.story != SETUP_STORY):
            # The slot first: with one slot, time moves only once the last command is done.
            await slots.acquire()
            await self.pacer.until(command.at)
            self.stats.lag = max(timedelta(0), self.pacer.now() - command.at)
            self.stats.max_lag = max(self.stats.max_lag, self.stats.lag)
            before = tails.get(command.story)
            tails[command.story] = asyncio.create_task(self._after(before, command, slots))
        await asyncio.gather(*tails.values())
        return self.stats

    async def _side_by_side(self, commands: Sequence[Command]) -> None:
        slots = asyncio.Semaphore(self.concurrency)

        async def one(command: Command) -> None:
            async with slots:
                await self.run(command)

        await asyncio.gather(*(one(c) for c in commands))

    async def _after(
        self, before: asyncio.Task[None] | None, command: Command, slots: asyncio.Semaphore
    ) -> None:
        try:
            if before is not None:
                await before
            await self.run(command)
        finally:
            slots.release()

    async def run(self, command: Command) -> None:
        """Carry out one command, retrying what is worth retrying; count the outcome."""
        name = str(command.action)
        self.stats.sent += 1
        began = time.monotonic()
        try:
            await self._carry_out(command, name)
        finally:
            self.stats.seconds[name] += time.monotonic() - began

    async def _carry_out(self, command: Command, name: str) -> None:
        try:
            if command.action is Action.SYNC_CUSTOMERS:
                await self._sync_customers(command)
                self.stats.ok[name] += 1
                return
            if command.action is Action.FINANCE_EVENT:
                await self._publish(command)
                self.stats.ok[name] += 1
                return
            response = await self._send(command)
        except MissingRecord:
            self.stats.skipped[name] += 1
            return
        except Exception as exc:  # a demo keeps playing; the count says what went wrong
            self._fail(command, f"{type(exc).__name__}: {exc}")
            return
        if response.is_success:
            self._learn(command, response.json())
            self.stats.ok[name] += 1
        elif command.expect == response.status_code:
            self.stats.rejected_as_planned[name] += 1
        else:
            self._fail(command, f"HTTP {response.status_code}: {response.text[:300]}")

    def _fail(self, command: Command, why: str) -> None:
        self.stats.failed[str(command.action)] += 1
        if len(self.stats.failures) < 50:
            when = f"{command.at.astimezone(TIMEZONE):%m-%d %H:%M}"
            self.stats.failures.append(f"{when} {command.action} by {command.actor}: {why}")
        log.info("demo command failed: %s %s: %s", command.action, command.params, why)

    async def _send(self, command: Command) -> httpx.Response:
        started = asyncio.get_running_loop().time()
        attempt = 0
        while True:
            if command.action is Action.SUBMIT_TASK and "photo" in command.params:
                # Pillow encodes the JPEG: off the event loop, like the service decodes it.
                request = await asyncio.to_thread(
                    request_for, command, self.records, self.pacer.now()
                )
            else:
                request = request_for(command, self.records, self.pacer.now())
            client = self.clients[request.service]
            try:
                response = await client.request(
                    request.method,
                    request.path,
                    json=request.json,
                    content=request.content,
                    data=request.data,
                    files=request.files,
                    headers={**self.auth(command.actor), **request.headers},
                )
            except httpx.TransportError:
                if attempt >= 5:
                    raise
                response = None
            attempt += 1
            if response is not None and response.status_code == 401 and attempt == 1:
                # A token that expired on the way (a long play): mint another, once.
                self._tokens.pop(command.actor, None)
                continue
            if response is not None and not self._worth_retrying(response, command, started):
                return response
            if attempt > 200:
                assert response is not None
                return response
            self.stats.retries += 1
            await asyncio.sleep(min(0.05 * attempt, 0.5))

    def _worth_retrying(self, response: httpx.Response, command: Command, started: float) -> bool:
        status = response.status_code
        if status == command.expect or response.is_success:
            return False
        if status == 422 and "(yet)" in response.text:
            # Tasks and collaboration learn customers from the customers service's events.
            waited = asyncio.get_running_loop().time() - started
            return waited < self.wait_for_known_customers
        # A concurrent write to the same record (409), or a service busy or restarting.
        return status in (409, 429, 502, 503, 504)

    def _learn(self, command: Command, body: Any) -> None:
        p = command.params
        if command.action is Action.PLAN_TASK:
            self.records.tasks[p["task"]] = body["task_id"]
        elif command.action is Action.SUBMIT_TICKET:
            self.records.tickets[p["ticket"]] = body["ticket_id"]
        elif command.action is Action.FILE_PROGRESS_REPORT:
            self.records.reports[p["report"]] = body["report_id"]

    async def _sync_customers(self, command: Command) -> None:
        """Learn the ids the service gave the imported customers, owner by owner."""
        client = self.clients["customers"]
        headers = self.auth(command.actor)
        slots = asyncio.Semaphore(self.concurrency)

        async def owned_by(owner: str) -> None:
            async with slots:
                response = await client.get(
                    "/customers", params={"owner_id": owner, "limit": 500}, headers=headers
                )
            response.raise_for_status()
            for row in response.json():
                if row["external_key"]:
                    self.records.customers[row["external_key"]] = row["customer_id"]

        await asyncio.gather(*(owned_by(owner) for owner in command.params["owners"]))
        expected = command.params["count"]
        if len(self.records.customers) < expected:
            raise RuntimeError(
                f"{len(self.records.customers)} customers found after the import, "
                f"expected {expected}"
            )
        if self.customers_known is not None:
            await self.customers_known(expected)

    async def _publish(self, command: Command) -> None:
        if self.publish is None:
            raise RuntimeError("no NATS connection to publish finance events on")
        event, subject = finance_event(command, self.records)
        await self.publish(event, subject, command.params["key"], self.pacer.now())
