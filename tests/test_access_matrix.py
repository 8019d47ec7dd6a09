"""The access matrix (tests/access_matrix.py) run against the five services.

All five run in-process on one NATS namespace (tasks and collaboration learn the customers
from the customers service's events, as deployed), with the company's OIDC provider
configured by its JWKS URL. Each endpoint is found in the apps' own routes, so an endpoint
added without a row in the table fails here. A call the table allows must answer 2xx (3xx
for the dashboard's redirects); where a call changes a record, the allowed callers each
get a fresh one in the state the call needs, and the refused callers share one, so a
refusal is always the role's and never the record's state.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from access_matrix import PEOPLE, UNAUTHENTICATED, Row, parse
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.types import Message

from salesops.auth import TokenIssuer
from salesops.clock import ManualClock
from salesops.testing.apps import RunningService, every_service, running_service
from salesops.testing.evidence_files import exif_time, photo
from salesops.testing.oidc_provider import FakeOidcProvider
from salesops.testing.served import serving
from salesops.testing.waiting import eventually
from services.notifier.platform_fakes import dingtalk_server

pytestmark = pytest.mark.integration

SERVICES = every_service()
SHANGHAI = ZoneInfo("Asia/Shanghai")
REP, OTHER_REP, SAME_GROUP_REP = "rep-zhang-wei", "rep-chen-jing", "rep-wang-fang"
LEAD, MANAGER, DIRECTOR = "gl-li-na", "sm-qian-wenbo", "sd-zhao-guoqiang"
ENGINEER, LOGISTICS, ADMIN = "te-luo-bin", "lg-cao-yang", "it-fang-min"
TEAM = "tech-electrical"
PERIOD = "2026-Q2"


@dataclass
class Req:
    """The request one row sends for one caller."""

    url: str
    json: Any = None
    content: bytes | None = None
    files: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: A status that means "allowed" besides 2xx/3xx (a service with no such record).
    also_ok: int | None = None
    #: Server-sent events: only the response's start is awaited.
    stream: bool = False


@dataclass
class Call:
    """What a builder knows: the service, whether the caller is expected through."""

    world: World
    service: str
    fresh: bool  # the caller is expected to be allowed: give them a record of their own


Builder = Callable[[Call], Awaitable[Req]]
BUILDERS: dict[tuple[str, str, str], Builder] = {}


def builds(service: str, route: str) -> Callable[[Builder], Builder]:
    method, path = route.split(" ", 1)

    def register(builder: Builder) -> Builder:
        BUILDERS[(service, method, path)] = builder
        return builder

    return register


class World:
    """The five services, the callers' tokens and the records the calls are about."""

    def __init__(self, services: dict[str, RunningService], provider: FakeOidcProvider) -> None:
        self.services = services
        self.provider = provider
        self.clock = services["customers"].clock
        self.shared: dict[str, str] = {}

    # -- callers -------------------------------------------------------------------------

    def headers(self, caller: str) -> dict[str, str]:
        tokens: TokenIssuer = self.services["customers"].runtime.tokens
        if caller in PEOPLE:
            return {"Authorization": f"Bearer {tokens.mint(PEOPLE[caller])}"}
        # The unauthenticated callers all claim to be the admin: the most a forger would want.
        if caller == "no token":
            return {}
        if caller == "expired token":
            token = tokens.mint(ADMIN, ttl=timedelta(seconds=-1))
        elif caller == "token signed with another key":
            token = TokenIssuer("another-deployment-s-secret-of-32-chars", "salesops").mint(ADMIN)
        else:
            assert caller == "OIDC token from another issuer", caller
            # Signed with the configured provider's own key, but another issuer's.
            token = self.provider.mint(ADMIN, iss="https://idp.evil.example")
        return {"Authorization": f"Bearer {token}"}

    # -- setting records up, through the services as their users would -------------------

    async def call(
        self, service: str, method: str, url: str, who: str, *, expect: int = 200, **kwargs: Any
    ) -> Any:
        running = self.services[service]
        response = await running.client.request(method, url, headers=running.auth(who), **kwargs)
        assert response.status_code == expect, (method, url, who, response.text)
        return response.json()

    async def customer(self, owner: str = REP) -> str:
        body = {"name": f"客户-{uuid.uuid4().hex[:6]}", "tier": "A", "estimated_contribution": "1"}
        created = await self.call("customers", "POST", "/customers", owner, json=body, expect=201)
        customer_id: str = created["customer_id"]
        return customer_id

    async def customer_in(self, state: str) -> str:
        """A customer of rep-zhang-wei with a committed next action or a pending join."""
        customer_id = await self.customer()
        if state == "next_action":
            await self.call(
                "customers",
                "PUT",
                f"/customers/{customer_id}/next-action",
                REP,
                json={
                    "kind": "other",
                    "description": "寄样",
                    "due_at": (self.clock.now() + timedelta(days=2)).isoformat(),
                },
            )
        else:
            await self.call(
                "customers",
                "PUT",
                f"/customers/{customer_id}/decision-state",
                REP,
                json={"state": "intent_confirmed"},
            )
        return customer_id

    async def report(self) -> str:
        created = await self.call(
            "customers",
            "POST",
            f"/customers/{self.shared['customer']}/progress-reports",
            REP,
            json={"key_action": "quoted", "obstacle": "budget_frozen", "support_needed": "协调"},
            expect=201,
        )
        report_id: str = created["report_id"]
        return report_id

    async def task(self, kind: str = "other", customer: str | None = None, who: str = REP) -> str:
        created = await self.call(
            "tasks",
            "POST",
            "/tasks",
            who,
            json={
                "customer_id": customer or self.shared["customer"],
                "kind": kind,
                "title": "跟进",
                "scheduled_at": self.clock.now().isoformat(),
            },
            expect=201,
        )
        task_id: str = created["task_id"]
        return task_id

    async def locked_quote(self) -> str:
        task_id = await self.task("quote")
        submitted = await self.call(
            "tasks",
            "POST",
            f"/tasks/{task_id}/submission",
            REP,
            files={"target_price": (None, "100.00"), "deal_price": (None, "80.00")},
        )
        assert submitted["status"] == "locked", submitted
        return task_id

    async def ticket_at(self, state: str) -> str:
        """A ticket of rep-zhang-wei for customer C, moved to ``state`` by its owners."""
        ticket = await self.call(
            "collaboration",
            "POST",
            "/tickets",
            REP,
            json={
                "customer_id": self.shared["customer"],
                "product": "HY-75 空压机",
                "quantity": 1,
                "document_types": ["ce_certification_report"],
            },
            expect=201,
        )
        ticket_id: str = ticket["ticket_id"]
        # Each step is made by the stage's owner and leaves the ticket in the state named.
        steps: list[tuple[str, str, str, dict[str, Any]]] = [
            (ENGINEER, "documents_complete", f"tech/{TEAM}/answer", {"answer": "provided"}),
            (LOGISTICS, "stocking_started", "stocking", {}),
            (LOGISTICS, "shipped", "shipment", {"tracking": "SF1234567890"}),
            (REP, "received", "receipt", {}),
        ]
        if state == "needs_info":
            missing = {"answer": "needs_info", "missing_items": ["电压"]}
            steps = [(ENGINEER, "needs_info", f"tech/{TEAM}/answer", missing)]
        reached = "dispatched"
        for who, after, path, body in steps:
            if reached == state:
                break
            await self.call("collaboration", "POST", f"/tickets/{ticket_id}/{path}", who, json=body)
            reached = after
        assert reached == state, (state, reached)
        return ticket_id

    async def shared_or_fresh(
        self, call: Call, key: str, make: Callable[[], Awaitable[str]]
    ) -> str:
        """A record of the caller's own when they are expected through, else a shared one."""
        if call.fresh:
            return await make()
        if key not in self.shared:
            self.shared[key] = await make()
        return self.shared[key]

    async def set_up(self) -> None:
        self.shared["customer"] = await self.customer()
        self.shared["other_customer"] = await self.customer(OTHER_REP)
        # A decision change notifies the sales manager: the delivery the notifier rows use.
        await self.call(
            "customers",
            "PUT",
            f"/customers/{self.shared['customer']}/decision-state",
            REP,
            json={"state": "budget_pending"},
        )
        # Targets down to group-east-1, which the rows split among its reps.
        splits = [
            (DIRECTOR, "hq", "12000000", [("region-east", "7000000"), ("region-south", "5000000")]),
            (
                MANAGER,
                "region-east",
                None,
                [("group-east-1", "4000000"), ("group-east-2", "3000000")],
            ),
        ]
        for who, parent, amount, shares in splits:
            await self.call(
                "customers",
                "POST",
                f"/targets/{PERIOD}/allocations",
                who,
                json={
                    "parent_id": parent,
                    "parent_amount": amount,
                    "rationale": "按客户池",
                    "shares": [{"node_id": n, "amount": a} for n, a in shares],
                },
            )
        await self.learned_customers("tasks", "collaboration")
        self.shared["task"] = await self.task()
        self.shared["other_task"] = await self.task(
            customer=self.shared["other_customer"], who=OTHER_REP
        )
        visit = await self.task("visit")
        taken_now = photo(taken=exif_time(self.clock.now(), SHANGHAI), serial="SN-778899")
        await self.call(
            "tasks",
            "POST",
            f"/tasks/{visit}/submission",
            REP,
            files={"file": ("visit.jpg", taken_now, "image/jpeg")},
        )
        sha = await self.services["tasks"].runtime.pool.fetchval(
            "SELECT sha256 FROM evidence_files WHERE task_id = $1", visit
        )
        self.shared["evidence"] = f"{visit}/evidence/{sha}"
        self.shared["ticket"] = await self.ticket_at("dispatched")
        self.shared["delivery"] = await self.delivered_to_the_manager()

    async def learned_customers(self, *services: str) -> None:
        ids = [self.shared["customer"], self.shared["other_customer"]]
        for name in services:
            pool = self.services[name].runtime.pool

            async def known(pool: Any = pool) -> bool:
                found = await pool.fetchval(
                    "SELECT count(*) FROM known_customers WHERE customer_id = ANY($1::text[])", ids
                )
                return bool(found == len(ids))

            await eventually(known)

    async def delivered_to_the_manager(self) -> str:
        notifier = self.services["notifier"]

        async def planned() -> Any:
            return await notifier.runtime.pool.fetchval(
                "SELECT delivery_id FROM deliveries WHERE person_id = $1 AND event_type = $2",
                MANAGER,
                "DecisionStateChanged",
            )

        await eventually(planned)
        await notifier.app.state.service.worker.tick()
        delivery_id: str = await planned()
        status = await notifier.runtime.pool.fetchval(
            "SELECT status FROM deliveries WHERE delivery_id = $1", delivery_id
        )
        assert status == "sent"
        return delivery_id


# -- the requests of each row ----------------------------------------------------------------


for _path in (
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
):

    async def _as_is(call: Call, path: str = _path) -> Req:
        return Req(path)

    BUILDERS[("*", "GET", _path)] = _as_is


@builds("*", "GET /audit/records/{record_id}")
async def _audit(call: Call) -> Req:
    w = call.world
    record = {
        "customers": w.shared["customer"],
        "tasks": w.shared["task"],
        "collaboration": w.shared["ticket"],
        "notifier": w.shared["delivery"],
    }.get(call.service)
    if record is None:  # the metrics service keeps no records of its own
        return Req("/audit/records/anything", also_ok=404)
    return Req(f"/audit/records/{record}")


@builds("customers", "POST /customers")
async def _register(call: Call) -> Req:
    return Req(
        "/customers", json={"name": "常州新材料", "tier": "B", "estimated_contribution": "5"}
    )


@builds("customers", "POST /customers/import")
async def _import(call: Call) -> Req:
    csv = (
        "external_key,name,tier,owner_id,estimated_contribution\nERP-1,客户一,A,rep-zhang-wei,10\n"
    )
    return Req(
        "/customers/import?dry_run=true",
        content=csv.encode(),
        headers={"content-type": "text/csv; charset=utf-8"},
    )


@builds("customers", "GET /customers")
async def _list(call: Call) -> Req:
    return Req("/customers")


@builds("customers", "GET /customers/negotiation-joins")
async def _joins(call: Call) -> Req:
    return Req("/customers/negotiation-joins")


@builds("customers", "GET /customers/{customer_id}")
async def _get_customer(call: Call) -> Req:
    return Req(f"/customers/{call.world.shared['customer']}")


@builds("customers", "PUT /customers/{customer_id}/decision-state")
async def _decision(call: Call) -> Req:
    customer = await call.world.shared_or_fresh(call, "customer", call.world.customer)
    return Req(f"/customers/{customer}/decision-state", json={"state": "needs_tech_validation"})


@builds("customers", "PUT /customers/{customer_id}/tier")
async def _tier(call: Call) -> Req:
    customer = await call.world.shared_or_fresh(call, "customer", call.world.customer)
    return Req(f"/customers/{customer}/tier", json={"tier": "B"})


@builds("customers", "PUT /customers/{customer_id}/owner")
async def _reassign(call: Call) -> Req:
    customer = await call.world.shared_or_fresh(call, "customer", call.world.customer)
    return Req(f"/customers/{customer}/owner", json={"owner_id": SAME_GROUP_REP})


@builds("customers", "POST /customers/{customer_id}/follow-ups")
async def _log_follow_up(call: Call) -> Req:
    return Req(
        f"/customers/{call.world.shared['customer']}/follow-ups",
        json={"kind": "call", "contacted_at": call.world.clock.now().isoformat(), "notes": "电话"},
    )


@builds("customers", "GET /customers/{customer_id}/progress-reports")
async def _progress_reports(call: Call) -> Req:
    return Req(f"/customers/{call.world.shared['customer']}/progress-reports")


@builds("customers", "GET /customers/{customer_id}/follow-ups")
async def _follow_ups(call: Call) -> Req:
    return Req(f"/customers/{call.world.shared['customer']}/follow-ups")


@builds("customers", "PUT /customers/{customer_id}/next-action")
async def _next_action(call: Call) -> Req:
    due = call.world.clock.now() + timedelta(days=1)
    return Req(
        f"/customers/{call.world.shared['customer']}/next-action",
        json={
            "kind": "schedule_factory_visit",
            "description": "约看产线",
            "due_at": due.isoformat(),
        },
    )


@builds("customers", "POST /customers/{customer_id}/next-action/complete")
async def _complete(call: Call) -> Req:
    w = call.world
    customer = await w.shared_or_fresh(call, "next_action", lambda: w.customer_in("next_action"))
    return Req(f"/customers/{customer}/next-action/complete")


@builds("customers", "POST /customers/{customer_id}/negotiation-join/confirm")
async def _confirm(call: Call) -> Req:
    w = call.world
    customer = await w.shared_or_fresh(call, "join", lambda: w.customer_in("join"))
    return Req(f"/customers/{customer}/negotiation-join/confirm")


@builds("customers", "POST /customers/{customer_id}/progress-reports")
async def _report(call: Call) -> Req:
    return Req(
        f"/customers/{call.world.shared['customer']}/progress-reports",
        json={
            "key_action": "visit_scheduled",
            "obstacle": "budget_frozen",
            "support_needed": "协调",
        },
    )


@builds("customers", "GET /progress-reports/todo")
async def _todo(call: Call) -> Req:
    return Req("/progress-reports/todo")


@builds("customers", "POST /progress-reports/{report_id}/answer")
async def _answer_report(call: Call) -> Req:
    report = await call.world.shared_or_fresh(call, "report", call.world.report)
    return Req(f"/progress-reports/{report}/answer", json={"answer": "coordinated"})


@builds("customers", "POST /targets/{period}/allocations")
async def _allocate(call: Call) -> Req:
    shares = [(REP, "2000000"), (SAME_GROUP_REP, "1000000"), ("rep-liu-yang", "1000000")]
    return Req(
        f"/targets/{PERIOD}/allocations",
        json={
            "parent_id": "group-east-1",
            "rationale": "张伟的 A 类客户最多",
            "shares": [{"node_id": n, "amount": a} for n, a in shares],
        },
    )


@builds("customers", "GET /targets/{period}")
async def _coverage(call: Call) -> Req:
    return Req(f"/targets/{PERIOD}")


@builds("tasks", "POST /tasks")
async def _plan(call: Call) -> Req:
    return Req(
        "/tasks",
        json={
            "customer_id": call.world.shared["customer"],
            "kind": "visit",
            "title": "拜访张总",
            "scheduled_at": (call.world.clock.now() + timedelta(days=1)).isoformat(),
        },
    )


@builds("tasks", "GET /tasks")
async def _day(call: Call) -> Req:
    day = call.world.clock.now().astimezone(SHANGHAI).date()
    return Req(f"/tasks?rep_id={REP}&day={day.isoformat()}")


@builds("tasks", "GET /tasks/awaiting-decision")
async def _queue(call: Call) -> Req:
    return Req("/tasks/awaiting-decision")


@builds("tasks", "GET /tasks/{task_id}")
async def _get_task(call: Call) -> Req:
    return Req(f"/tasks/{call.world.shared['task']}")


@builds("tasks", "POST /tasks/{task_id}/submission")
async def _submit(call: Call) -> Req:
    task = await call.world.shared_or_fresh(call, "task", call.world.task)
    return Req(f"/tasks/{task}/submission", files={"note": (None, "已电话确认参数")})


@builds("tasks", "POST /tasks/{task_id}/concession-decision")
async def _decide(call: Call) -> Req:
    task = await call.world.shared_or_fresh(call, "quote", call.world.locked_quote)
    return Req(f"/tasks/{task}/concession-decision", json={"decision": "approve", "reason": "首单"})


@builds("tasks", "GET /tasks/{task_id}/evidence")
async def _evidence_list(call: Call) -> Req:
    return Req(f"/tasks/{call.world.shared['evidence'].split('/')[0]}/evidence")


@builds("tasks", "GET /tasks/{task_id}/evidence/{sha256}")
async def _evidence(call: Call) -> Req:
    return Req(f"/tasks/{call.world.shared['evidence']}")


@builds("collaboration", "POST /tickets")
async def _submit_ticket(call: Call) -> Req:
    return Req(
        "/tickets",
        json={
            "customer_id": call.world.shared["customer"],
            "product": "HY-37",
            "quantity": 2,
            "document_types": ["ce_certification_report"],
        },
    )


@builds("collaboration", "GET /tickets")
async def _tickets(call: Call) -> Req:
    return Req("/tickets")


@builds("collaboration", "GET /tickets/{ticket_id}")
async def _ticket(call: Call) -> Req:
    return Req(f"/tickets/{call.world.shared['ticket']}")


@builds("collaboration", "GET /document-types")
async def _document_types(call: Call) -> Req:
    return Req("/document-types")


#: Each stage's call: the state its ticket must be in, the sub-path and the body.
_TICKET_STEPS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "/tickets/{ticket_id}/tech/{team_id}/answer": (
        "dispatched",
        f"tech/{TEAM}/answer",
        {"answer": "provided"},
    ),
    "/tickets/{ticket_id}/tech/{team_id}/info": (
        "needs_info",
        f"tech/{TEAM}/info",
        {"info": "380V 三相"},
    ),
    "/tickets/{ticket_id}/stocking": ("documents_complete", "stocking", {}),
    "/tickets/{ticket_id}/shipment": ("stocking_started", "shipment", {"tracking": "SF1"}),
    "/tickets/{ticket_id}/receipt": ("shipped", "receipt", {}),
    "/tickets/{ticket_id}/rating": ("received", "rating", {"stars": 5}),
}


def _ticket_step(state: str, path: str, body: dict[str, Any]) -> Builder:
    async def build(call: Call) -> Req:
        w = call.world
        ticket = await w.shared_or_fresh(call, f"ticket:{state}", lambda: w.ticket_at(state))
        return Req(f"/tickets/{ticket}/{path}", json=body)

    return build


for _route, (_state, _sub, _body) in _TICKET_STEPS.items():
    BUILDERS[("collaboration", "POST", _route)] = _ticket_step(_state, _sub, _body)


@builds("collaboration", "GET /sla-board")
async def _board(call: Call) -> Req:
    return Req("/sla-board")


@builds("collaboration", "GET /reports/repeated-documents")
async def _repeats(call: Call) -> Req:
    return Req("/reports/repeated-documents")


@builds("notifier", "GET /deliveries")
async def _deliveries(call: Call) -> Req:
    return Req("/deliveries")


@builds("notifier", "GET /deliveries/{delivery_id}/attempts")
async def _attempts(call: Call) -> Req:
    return Req(f"/deliveries/{call.world.shared['delivery']}/attempts")


@builds("notifier", "GET /dead-letters")
async def _dead_letters(call: Call) -> Req:
    return Req("/dead-letters")


@builds("notifier", "POST /dead-letters/{delivery_id}/replay")
async def _replay(call: Call) -> Req:
    delivery = call.world.shared["delivery"]
    if call.fresh:  # dead-letter it again: each operator replays a dead letter
        await call.world.services["notifier"].runtime.pool.execute(
            "UPDATE deliveries SET status = 'dead' WHERE delivery_id = $1", delivery
        )
    return Req(f"/dead-letters/{delivery}/replay")


_FIGURES = {
    "/indicators": "",
    "/figures/{measure}": "",
    "/figures/{measure}/drill-down": "",
    "/figures/{measure}/trend": "&kind=month&count=3",
    "/activity": "",
    "/health-dashboard": "",
    "/causes": "&measure=trace&dimension=kind&before=2025-12&after=2026-01",
    "/records": "&measure=trace&period=2026-01",
    "/attention": "",
}
for _route, _query in _FIGURES.items():

    async def _figure(call: Call, route: str = _route, query: str = _query) -> Req:
        return Req(f"{route.replace('{measure}', 'trace')}?unit={REP}{query}")

    BUILDERS[("metrics", "GET", _route)] = _figure

for _route in ("/sla-board", "/units", "/measures", "/names", "/", "/dashboard", "/dashboard/"):

    async def _plain(call: Call, route: str = _route) -> Req:
        return Req(route)

    BUILDERS[("metrics", "GET", _route)] = _plain


@builds("metrics", "GET /dashboard/assets/{name}")
async def _asset(call: Call) -> Req:
    return Req("/dashboard/assets/app.js")


@builds("metrics", "GET /changes")
async def _changes(call: Call) -> Req:
    return Req("/changes", stream=True)


# -- running it ------------------------------------------------------------------------------


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, included routers' prefixes applied; HEAD comes
    with every GET."""
    found = set()
    for route in iter_route_contexts(app.routes):
        if route.path is None:
            continue
        for method in (route.methods or set()) - {"HEAD"}:
            found.add((method, route.path))
    return found


def rows_by_service(rows: list[Row]) -> dict[str, list[Row]]:
    return {name: [row for row in rows if row.service in ("*", name)] for name in SERVICES}


async def stream_status(app: FastAPI, url: str, headers: dict[str, str]) -> tuple[int, str]:
    """Status and challenge of a streaming response, then hang up (an event stream never
    ends by itself, and an in-process client would wait for its end)."""
    started: dict[str, Any] = {}
    hung_up = asyncio.Event()
    path, _, query = url.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started["status"] = message["status"]
            started["headers"] = dict(message.get("headers", []))
            hung_up.set()

    async with asyncio.timeout(10):
        await app(scope, receive, send)
    challenge = started["headers"].get(b"www-authenticate", b"").decode()
    return started["status"], challenge


async def run(world: World, row: Row, service: str, caller: str) -> tuple[int, str]:
    """The status one caller gets, and what it means: allowed, 403, 401 (or another)."""
    expected = row.expected(caller)
    builder = BUILDERS[(row.service, row.method, row.path)]
    req = await builder(Call(world, service, fresh=expected == "allowed" and caller in PEOPLE))
    running = world.services[service]
    headers = {**req.headers, **world.headers(caller)}
    if req.stream:
        status, challenge = await stream_status(running.app, req.url, headers)
    else:
        response = await running.client.request(
            row.method,
            req.url,
            headers=headers,
            json=req.json,
            content=req.content,
            files=req.files,
        )
        status, challenge = response.status_code, response.headers.get("www-authenticate", "")
    if 200 <= status < 400 or status == req.also_ok:
        return status, "allowed"
    if status == 401 and not challenge.startswith("Bearer"):
        # A refusal says how to authenticate (RFC 6750), whatever was wrong with the token.
        return status, "401 without a challenge"
    return status, str(status)


@pytest.fixture(scope="module")
async def world(database_url: str, nats_url: str, test_run_id: str) -> AsyncIterator[World]:
    clock = ManualClock()
    namespace = f"t{test_run_id}.matrix{uuid.uuid4().hex[:6]}"
    provider = FakeOidcProvider(clock)
    async with AsyncExitStack() as stack:
        provider.issuer = await stack.enter_async_context(serving(provider.app()))
        robot = await stack.enter_async_context(dingtalk_server(secret="SEC-matrix", clock=clock))
        with pytest.MonkeyPatch.context() as env:
            # Read when each service starts: its settings, the notifier's channels.
            env.setenv("SALESOPS_OIDC_ISSUER", provider.issuer)
            env.setenv("SALESOPS_OIDC_AUDIENCE", provider.client_id)
            env.setenv("SALESOPS_OIDC_JWKS_URL", f"{provider.issuer}/jwks")
            env.setenv("SALESOPS_NOTIFY_DINGTALK_WEBHOOK", robot.webhook_url)
            env.setenv("SALESOPS_NOTIFY_DINGTALK_SECRET", "SEC-matrix")
            services = {
                name: await stack.enter_async_context(
                    running_service(
                        definition,
                        database_url=database_url,
                        nats_url=nats_url,
                        namespace=namespace,
                        schema=f"t_matrix_{uuid.uuid4().hex[:10]}",
                        clock=clock,
                    )
                )
                for name, definition in SERVICES.items()
            }
        found = World(services, provider)
        await found.set_up()
        yield found


def test_the_table_reads_as_intended() -> None:
    rows = parse()
    keys = [(row.service, row.method, row.path) for row in rows]
    assert len(keys) == len(set(keys)), "a row is in the table twice"
    assert set(keys) == set(BUILDERS), "each row has its request, and each request its row"
    audit = next(row for row in rows if row.path == "/audit/records/{record_id}")
    assert audit.expected("rep") == "403"
    assert audit.expected("it") == "allowed"
    assert audit.expected("no token") == "401"
    assert (
        next(row for row in rows if row.path == "/healthz").expected("expired token") == "allowed"
    )


async def test_every_endpoint_has_a_row(world: World) -> None:
    by_service = rows_by_service(parse())
    for name, running in world.services.items():
        routes = routes_of(running.app)
        rows = {(row.method, row.path) for row in by_service[name]}
        assert routes - rows == set(), f"{name}: endpoints without a row in tests/access_matrix.py"
        assert rows - routes == set(), f"{name}: rows for endpoints that do not exist"


async def test_every_endpoint_answers_every_caller_as_the_table_says(world: World) -> None:
    callers = [*PEOPLE, *UNAUTHENTICATED]
    started = time.perf_counter()
    differences = []
    calls = 0
    for name, rows in rows_by_service(parse()).items():
        for row in rows:
            for caller in callers:
                status, outcome = await run(world, row, name, caller)
                calls += 1
                if outcome != row.expected(caller):
                    differences.append(
                        f"{name} {row.method} {row.path} as {caller}: expected "
                        f"{row.expected(caller)}, got {status}"
                    )
    assert differences == [], "\n".join(differences)
    # 99 endpoints (8 of the chassis on each of 5 services) x 14 callers, in seconds.
    assert calls >= 99 * 14, calls
    assert time.perf_counter() - started < 60


async def test_a_rep_never_reads_another_rep_s_customers(world: World) -> None:
    theirs, their_task = world.shared["other_customer"], world.shared["other_task"]

    async def status(service: str, method: str, url: str, who: str = REP, **kw: Any) -> int:
        running = world.services[service]
        response = await running.client.request(method, url, headers=running.auth(who), **kw)
        return response.status_code

    # The other rep reaches their own records: the refusals below are about who asks.
    assert await status("customers", "GET", f"/customers/{theirs}", OTHER_REP) == 200
    assert await status("tasks", "GET", f"/tasks/{their_task}", OTHER_REP) == 200
    await world.customer(SAME_GROUP_REP)
    for who in (REP, SAME_GROUP_REP):  # another group's rep, and a colleague of the owner
        mine = world.shared["customer"]
        target = theirs if who == REP else mine
        owner = OTHER_REP if who == REP else REP
        listed = await world.call("customers", "GET", "/customers?limit=500", who)
        assert listed, "a rep sees their own customers"
        assert {c["owner_id"] for c in listed} == {who}
        assert await status("metrics", "GET", f"/indicators?unit={who}", who) == 200
        assert await status("customers", "GET", f"/customers?owner_id={owner}", who) == 403
        assert await status("customers", "GET", f"/customers/{target}", who) == 403
        assert await status("customers", "GET", f"/customers/{target}/follow-ups", who) == 403
        assert await status("tasks", "GET", f"/tasks?rep_id={owner}", who) == 403
        for url in (
            f"/figures/penetration?unit={owner}",
            f"/indicators?unit={owner}",
            f"/attention?unit={owner}",
            f"/records?measure=trace&unit={owner}",
            f"/sla-board?unit={owner}",
            "/indicators?unit=group-east-1",
        ):
            assert await status("metrics", "GET", url, who) == 403, url
        units = await world.call("metrics", "GET", "/units", who)
        assert [node["id"] for node in units["nodes"]] == [who]
        lines = await world.call("customers", "GET", f"/targets/{PERIOD}", who)
        assert {line["node_id"] for line in lines} == {who}
    assert await status("customers", "GET", "/customers?org_unit_id=group-east-2") == 200
    assert await world.call("customers", "GET", "/customers?org_unit_id=group-east-2", REP) == []
    assert await status("tasks", "GET", f"/tasks/{their_task}") == 403
    body = {
        "customer_id": theirs,
        "product": "HY-37",
        "quantity": 1,
        "document_types": ["wiring_diagram"],
    }
    assert await status("collaboration", "POST", "/tickets", json=body) == 403
