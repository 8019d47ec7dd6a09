"""Every HTTP operation of every service, fuzzed from its own OpenAPI document.

Schemathesis turns each operation's schema into Hypothesis strategies, valid data
(positive) and data that breaks the schema (negative); each generated request goes
through the app in-process on the test's real PostgreSQL and NATS, sent by a person of
the org directory, by nobody, or with a forged token. Every answer must hold:

- no 5xx, and no exception escaping the app;
- no Python stack trace or exception class name in the body;
- every 4xx is an RFC 9457 problem (``application/problem+json``) with its status and a
  detail; a validation refusal names each field at fault with a reason.

The run is seeded and bounded: ``SALESOPS_FUZZ_EXAMPLES`` requests per operation (default
30), ``SALESOPS_FUZZ_SEED`` picks another deterministic sequence. A longer hunt::

    SALESOPS_FUZZ_EXAMPLES=500 SALESOPS_FUZZ_SEED=$RANDOM .venv/bin/python -m pytest \
        tests/test_fuzz_api.py -p no:cacheprovider -q -s

``-s`` shows the per-service figures (operations, requests, statuses) the run prints.
The requests that broke a service before it was fixed (``REGRESSIONS``) are replayed
first on every run, whatever the seed.

Why the requests do not go through schemathesis' own ``case.call()``: its ASGI transport
runs the app on an event loop of its own, in another thread, while the app's asyncpg pool
and NATS connection belong to the test's loop. So Hypothesis drives the generation in a
worker thread and each case is sent, serialised the way schemathesis serialises it for
``requests``, through httpx's ASGI transport on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from nats.js import JetStreamContext
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesops.clock import ManualClock
from salesops.problems import PROBLEM_MEDIA_TYPE
from salesops.runtime import ServiceDefinition
from salesops.testing.apps import RunningService, ServiceStarter
from salesops.testing.commands import plan_task, submit_ticket
from salesops.testing.events import publish_customer_registered, until_customers_known
from services.collaboration.service import COLLABORATION
from services.console.app import create_console_app
from services.console.settings import ConsoleSettings
from services.customers.service import CUSTOMERS
from services.metrics.queries import known_measures
from services.metrics.service import METRICS
from services.notifier.service import NOTIFIER
from services.tasks.service import TASKS

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("SALESOPS_FUZZ_EXAMPLES", "30"))
SEED = int(os.environ.get("SALESOPS_FUZZ_SEED", "20260302"))
#: One request that takes longer than this hangs (an event stream is cut, see below).
REQUEST_TIMEOUT = 20.0

REP = "rep-zhang-wei"
OTHER_REP = "rep-chen-jing"
NO_TOKEN = "(no token)"
FORGED_TOKEN = "(forged token)"
#: Who sends each request, drawn per example. Most are people who may call something
#: (the director oversees everyone; a rep owns the seeded records; the others hold the
#: roles of tables 2 and 3), so the generated data reaches the handlers, not only auth.
SENDERS = (
    "sd-zhao-guoqiang",
    "sd-zhao-guoqiang",
    REP,
    REP,
    "gl-li-na",
    "te-luo-bin",
    "lg-cao-yang",
    "fr-sun-li",
    NO_TOKEN,
    FORGED_TOKEN,
)
FORGED = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzZC16aGFvLWd1b3FpYW5nIiwiZXhwIjo0MTAyNDQ0"
    "ODAwfQ.c2lnbmVkIHdpdGggdGhlIHdyb25nIGtleQ"
)

# A stack trace or an exception's class name in a body tells an attacker the internals.
_TRACE = re.compile(r'Traceback \(most recent call last\)|File "[^"]*", line \d+')
_EXCEPTION_NAME = re.compile(
    r"\b(?:[A-Z][A-Za-z]*(?:Error|Exception|Violation)|asyncpg|psycopg|sqlalchemy|"
    r"pydantic_core|starlette|uvicorn)\b"
)


@dataclass(frozen=True)
class Regression:
    """A request that once answered 500; ``{name}`` in the URL is a seeded record's id."""

    method: str
    url: str
    send: dict[str, Any] = field(default_factory=dict)
    sender: str = "sd-zhao-guoqiang"

    def for_records(self, known: Mapping[str, list[str]]) -> Regression:
        ids = {name: values[0] for name, values in known.items()}
        return Regression(self.method, self.url.format(**ids), self.send, self.sender)


@dataclass
class Finding:
    operation: str
    sender: str
    problem: str
    request: str
    response: str

    def key(self) -> tuple[str, str]:
        return self.operation, self.problem.split(":")[0]


@dataclass
class Report:
    """What one service's fuzzing tried and found."""

    service: str
    operations: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    unsendable: int = 0
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        total = sum(self.requests.values())
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"{self.service}: {len(self.operations)} operations, {total} requests "
            f"({self.unsendable} not sendable over HTTP) in {self.seconds:.1f}s; {statuses}"
        )

    def failures(self) -> str:
        seen: dict[tuple[str, str], Finding] = {}
        for finding in self.findings:
            seen.setdefault(finding.key(), finding)
        return "\n\n".join(
            f"{f.operation} as {f.sender}: {f.problem}\n  request: {f.request}\n"
            f"  response: {f.response[:1500]}"
            for f in seen.values()
        )


def _asked(response: httpx.Response) -> str:
    """The request's URL (decoded) and body, or nothing for an answer made without one."""
    try:
        request = response.request
    except RuntimeError:
        return ""
    return unquote(str(request.url)) + request.content.decode(errors="replace")


def check_answer(response: httpx.Response) -> list[str]:
    """What is wrong with an answer, by the rules in the module docstring."""
    wrong = []
    text = response.text
    if response.status_code >= 500:
        wrong.append(f"server error {response.status_code}")
    if _TRACE.search(text):
        wrong.append("stack trace in the body")
    if response.status_code < 400:
        return wrong
    # A name the request itself carried is an echo ("no customer 'KeyError'"), not a leak:
    # Hypothesis draws strings from the constants of the code under test.
    asked = _asked(response)
    for leaked in _EXCEPTION_NAME.finditer(text):
        if leaked.group(0) not in asked:
            wrong.append(f"internal name {leaked.group(0)!r} in the body")
            break
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type != PROBLEM_MEDIA_TYPE:
        return [*wrong, f"error answered as {media_type or 'no content type'}, not a problem"]
    try:
        body = response.json()
    except ValueError:
        return [*wrong, "problem body is not JSON"]
    if not isinstance(body, dict):
        return [*wrong, "problem body is not an object"]
    if body.get("status") != response.status_code:
        wrong.append(f"problem status {body.get('status')!r} is not {response.status_code}")
    for member in ("type", "title", "detail"):
        if not isinstance(body.get(member), str) or not body[member].strip():
            wrong.append(f"problem has no {member}")
    errors = body.get("errors")
    if body.get("type") == "urn:salesops:problem:invalid-request" and not errors:
        wrong.append("validation problem names no field")
    # An import names rows and columns instead of fields; a validation refusal names fields.
    located_by = "field" if body.get("type") == "urn:salesops:problem:invalid-request" else None
    if errors is not None and not (
        isinstance(errors, list) and all(_names_a_reason(e, located_by) for e in errors)
    ):
        wrong.append("problem errors are not a list of {field, reason}")
    return wrong


def _names_a_reason(error: object, located_by: str | None) -> bool:
    if not isinstance(error, dict):
        return False
    reason, where = error.get("reason"), error.get("field")
    if located_by is not None and not where:
        return False
    # A field is named as the client sent it, even a key that is only whitespace.
    return bool(isinstance(reason, str) and reason.strip()) and (
        where is None or (isinstance(where, str) and where != "")
    )


def cut_event_streams(app: ASGIApp) -> ASGIApp:
    """The app, except that an event stream ends for the client after its first chunk.

    An endless ``text/event-stream`` (the metrics dashboard's ``/changes``) would keep
    httpx's ASGI transport waiting forever; a real client that has seen the stream start
    got its answer, so the app is then told the client went away, as it would be.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        streaming = False
        gone = asyncio.Event()

        async def send_until_gone(message: Message) -> None:
            nonlocal streaming
            if gone.is_set():
                return
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            elif streaming and message["type"] == "http.response.body":
                gone.set()
                message = {**message, "more_body": False}
            await send(message)

        async def receive_until_gone() -> Message:
            if gone.is_set():
                return {"type": "http.disconnect"}
            waiting = asyncio.ensure_future(receive())
            left = asyncio.ensure_future(gone.wait())
            try:
                await asyncio.wait({waiting, left}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                left.cancel()
                if not waiting.done():
                    waiting.cancel()
            return waiting.result() if waiting.done() else {"type": "http.disconnect"}

        await app(scope, receive_until_gone, send_until_gone)

    return wrapped


def _body_bytes(prepared: requests.PreparedRequest) -> bytes:
    body = prepared.body
    if isinstance(body, str):
        return body.encode()
    if body is None or isinstance(body, bytes):
        return body or b""
    raise TypeError("schemathesis serialises bodies to bytes; a stream is not expected")


def _described(method: str, url: str, body: bytes) -> str:
    return f"{method} {url} {body[:300]!r}"


class Fuzzer:
    """Sends generated cases to one app, from a Hypothesis run in a worker thread."""

    def __init__(
        self,
        name: str,
        app: ASGIApp,
        mint: Callable[[str], str],
        known: Mapping[str, list[str]],
    ) -> None:
        self.report = Report(name)
        self._app = app
        self._mint = mint
        self._known = known
        self._loop = asyncio.get_running_loop()
        # Exceptions are raised to the test (not turned into a 500 by the transport), so a
        # finding names the exception that a real server would only have logged.
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cut_event_streams(app)), base_url="http://fuzz"
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def fuzz(self, schema: OpenApiSchema) -> None:
        started = time.perf_counter()
        for result in schema.get_all_operations():
            if not isinstance(result, Ok):  # a definition schemathesis cannot read
                raise result.err()
            operation = result.ok()
            self.report.operations.append(operation.label)
            await asyncio.to_thread(self._fuzz_operation, operation)
        self.report.seconds = time.perf_counter() - started

    def _strategy(self, operation: Any) -> st.SearchStrategy[Case[Any]]:
        known = {
            parameter.name: st.sampled_from(self._known[parameter.name])
            for parameter in operation.path_parameters
            if parameter.name in self._known
        }
        strategies: list[st.SearchStrategy[Case[Any]]] = []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies.append(operation.as_strategy(generation_mode=mode))
            if known:
                # Ids of records that exist, so generated bodies reach the domain code.
                strategies.append(
                    st.fixed_dictionaries(known).flatmap(_with_path_parameters(operation, mode))
                )
        return st.one_of(strategies)

    def _fuzz_operation(self, operation: Any) -> None:
        @hypothesis.seed(SEED)
        @hypothesis.settings(
            max_examples=EXAMPLES,
            database=None,
            deadline=None,
            # Failures are collected, not raised: no shrinking, every kind is reported.
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=self._strategy(operation), sender=st.sampled_from(SENDERS))
        def one(case: Case[Any], sender: str) -> None:
            future = asyncio.run_coroutine_threadsafe(self._send(case, sender), self._loop)
            future.result(REQUEST_TIMEOUT + 5)

        one()

    async def _send(self, case: Case[Any], sender: str) -> None:
        label = case.operation.label
        kwargs = case.as_transport_kwargs(base_url="http://fuzz")
        method, url, body = "", "", b""
        try:
            prepared = requests.Request(
                method=kwargs["method"],
                url=kwargs["url"],
                headers=kwargs.get("headers"),
                params=kwargs.get("params"),
                cookies=kwargs.get("cookies"),
                data=kwargs.get("data"),
                files=kwargs.get("files"),
                json=kwargs.get("json"),
            ).prepare()
            method, url, body = prepared.method or "GET", prepared.url or "/", _body_bytes(prepared)
            headers = {
                key: value if isinstance(value, str) else value.decode("latin-1")
                for key, value in prepared.headers.items()
                if key.lower() != "authorization"
            }
            headers.update(self._authorization(sender))
            request = self._client.build_request(method, url, headers=headers, content=body)
        except (ValueError, TypeError, UnicodeError, requests.RequestException, httpx.HTTPError):
            # Header values no HTTP client can put on the wire (e.g. non-Latin-1 text).
            self.report.unsendable += 1
            return
        self.report.requests[label] += 1
        await self._check(label, sender, request, _described(method, url, body))

    def _authorization(self, sender: str) -> dict[str, str]:
        if sender == NO_TOKEN:
            return {}
        token = FORGED if sender == FORGED_TOKEN else self._mint(sender)
        return {"Authorization": f"Bearer {token}"}

    async def replay(self, regression: Regression) -> None:
        """Send a request that once broke a service; it must now be refused cleanly."""
        request = self._client.build_request(
            regression.method,
            regression.url,
            headers=self._authorization(regression.sender),
            **regression.send,
        )
        label = f"regression {regression.method} {regression.url}"
        self.report.requests[label] += 1
        response = await self._check(label, regression.sender, request, label)
        if response is not None and not 400 <= response.status_code < 500:
            self._found(label, regression.sender, label, "not refused with a 4xx", response.text)

    async def _check(
        self, label: str, sender: str, request: httpx.Request, described: str
    ) -> httpx.Response | None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await self._client.send(request)
        except TimeoutError:
            self._found(label, sender, described, "no answer within the timeout", "")
            return None
        except Exception as exc:
            self._found(label, sender, described, f"unhandled {type(exc).__name__}: {exc}", "")
            return None
        self.report.statuses[response.status_code] += 1
        for wrong in check_answer(response):
            self._found(label, sender, described, wrong, response.text)
        return response

    def _found(self, label: str, sender: str, described: str, problem: str, response: str) -> None:
        self.report.findings.append(Finding(label, sender, problem, described, response))


def _with_path_parameters(
    operation: Any, mode: GenerationMode
) -> Callable[[dict[str, str]], st.SearchStrategy[Case[Any]]]:
    def strategy(ids: dict[str, str]) -> st.SearchStrategy[Case[Any]]:
        found: st.SearchStrategy[Case[Any]] = operation.as_strategy(
            generation_mode=mode, path_parameters=ids
        )
        return found

    return strategy


async def fuzz_app(
    name: str,
    app: Any,
    mint: Callable[[str], str],
    known: Mapping[str, list[str]] | None = None,
    regressions: list[Regression] | None = None,
) -> Report:
    # The document is the app's own, as /openapi.json serves it.
    schema = schemathesis.openapi.from_dict(app.openapi())
    fuzzer = Fuzzer(name, app, mint, known or {})
    try:
        for regression in regressions or []:
            await fuzzer.replay(regression)
        await fuzzer.fuzz(schema)
    finally:
        await fuzzer.close()
    print(f"\n{fuzzer.report.summary()}")
    return fuzzer.report


def assert_clean(report: Report) -> None:
    assert report.operations, f"{report.service}: no operation was fuzzed"
    # Every operation got requests: a schema schemathesis could not generate for is no pass.
    assert not set(report.operations) - set(report.requests), report.requests
    assert not report.findings, f"{report.service}:\n{report.failures()}"


# Each service runs on the test's servers with a few records, whose ids are offered to
# the operations' path parameters beside generated ones.

Seeder = Callable[[RunningService, JetStreamContext, str], Awaitable[dict[str, list[str]]]]


async def _known_customers(
    service: RunningService, js: JetStreamContext, namespace: str, count: int
) -> None:
    await publish_customer_registered(
        js, namespace, customer_id="cus-1", owner_id=REP, name="宁波精密模具"
    )
    await publish_customer_registered(
        js, namespace, customer_id="cus-2", owner_id=OTHER_REP, name="别人的客户"
    )
    await until_customers_known(service, count)


async def seed_customers(
    service: RunningService, js: JetStreamContext, namespace: str
) -> dict[str, list[str]]:
    created = await service.client.post(
        "/customers",
        json={"name": "宁波精密模具", "tier": "A", "estimated_contribution": "1200000.00"},
        headers=service.auth(REP),
    )
    assert created.status_code == 201, created.text
    return {
        "customer_id": [created.json()["customer_id"]],
        "period": ["2026", "2026-Q1", "2026-03"],
    }


async def seed_tasks(
    service: RunningService, js: JetStreamContext, namespace: str
) -> dict[str, list[str]]:
    await _known_customers(service, js, namespace, 2)
    ids = {}
    for kind in ("visit", "proposal", "quote", "other"):
        planned = await plan_task(service, "cus-1", who=REP, at=service.clock.now(), kind=kind)
        assert planned.status_code == 201, planned.text
        ids[f"{kind}_task_id"] = planned.json()["task_id"]
    return {"task_id": list(ids.values())} | {name: [id_] for name, id_ in ids.items()}


async def seed_collaboration(
    service: RunningService, js: JetStreamContext, namespace: str
) -> dict[str, list[str]]:
    await _known_customers(service, js, namespace, 2)
    submitted = await submit_ticket(
        service,
        "cus-1",
        who=REP,
        quantity=2,
        document_types=["ce_certification_report", "installation_drawing_3d"],
        note="客户周五要",
    )
    assert submitted.status_code == 201, submitted.text
    return {
        "ticket_id": [submitted.json()["ticket_id"]],
        "team_id": ["tech-electrical", "tech-structural", "logistics"],
    }


async def seed_nothing(
    service: RunningService, js: JetStreamContext, namespace: str
) -> dict[str, list[str]]:
    return {}


async def seed_metrics(
    service: RunningService, js: JetStreamContext, namespace: str
) -> dict[str, list[str]]:
    return {"measure": list(known_measures())}


# What the fuzzing found (each answered 500 before it was fixed), replayed on every run.
NUL = "%00"
PAST_THE_END = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC
BEFORE_THE_START = "0001-01-01T00:00:00+14:00"  # year 0 in UTC
REGRESSIONS = {
    "customers": [
        Regression("GET", f"/customers?owner_id=a{NUL}b"),
        Regression("GET", f"/customers/a{NUL}b"),
        Regression("GET", "/customers?offset=100000000000000000000"),
        Regression(
            "POST",
            "/customers",
            {"json": {"name": "a\u0000b", "tier": "A", "estimated_contribution": "1.00"}},
            REP,
        ),
        Regression(
            "POST",
            "/customers/{customer_id}/follow-ups",
            {"json": {"kind": "visit", "contacted_at": BEFORE_THE_START, "notes": "到厂"}},
            REP,
        ),
        Regression(
            "PUT",
            "/customers/{customer_id}/next-action",
            {
                "json": {
                    "kind": "schedule_factory_visit",
                    "description": "约张总",
                    "due_at": PAST_THE_END,
                }
            },
            REP,
        ),
    ],
    "tasks": [
        Regression("GET", "/tasks?day=0001-01-01"),
        Regression(
            "POST",
            "/tasks",
            {
                "json": {
                    "customer_id": "cus-1",
                    "kind": "visit",
                    "title": "拜访",
                    "scheduled_at": BEFORE_THE_START,
                }
            },
            REP,
        ),
        Regression(
            "POST",
            "/tasks/{quote_task_id}/submission",
            {"data": {"target_price": "1E+999999999", "deal_price": "1"}},
            REP,
        ),
        # Not a 500 but minutes of CPU in the concession arithmetic.
        Regression(
            "POST",
            "/tasks/{quote_task_id}/submission",
            {"data": {"target_price": "100", "deal_price": "1E-999999999"}},
            REP,
        ),
    ],
    "collaboration": [
        Regression("GET", "/reports/repeated-documents?until=0001-01-06T03%3A21%3A17Z"),
        Regression("GET", f"/reports/repeated-documents?since={PAST_THE_END.replace('+', '%2B')}"),
        Regression("GET", f"/tickets?status={NUL}"),
    ],
    "notifier": [
        Regression("GET", f"/deliveries/{NUL}/attempts"),
        Regression("GET", f"/deliveries?status={NUL}"),
    ],
    "metrics": [
        Regression("GET", "/records?measure=trace&offset=100000000000000000000"),
        Regression("GET", "/indicators?period=9999-12-31"),
        Regression("GET", "/indicators?period=0001-01-01"),
    ],
}

SERVICES: dict[str, tuple[ServiceDefinition, Seeder]] = {
    "customers": (CUSTOMERS, seed_customers),
    "tasks": (TASKS, seed_tasks),
    "collaboration": (COLLABORATION, seed_collaboration),
    "notifier": (NOTIFIER, seed_nothing),
    "metrics": (METRICS, seed_metrics),
}


@pytest.mark.parametrize("name", list(SERVICES))
async def test_no_generated_request_breaks_a_service(
    name: str, start_service: ServiceStarter, namespace: str, js: JetStreamContext
) -> None:
    definition, seed = SERVICES[name]
    async with start_service(definition) as service:
        known = await seed(service, js, namespace)
        regressions = [regression.for_records(known) for regression in REGRESSIONS[name]]
        report = await fuzz_app(name, service.app, service.runtime.tokens.mint, known, regressions)
    assert_clean(report)


@contextlib.asynccontextmanager
async def running_console(clock: ManualClock) -> AsyncIterator[Any]:
    # Its upstreams point nowhere: the console's own operations are fuzzed, not forwarding.
    settings = ConsoleSettings().model_copy(update={"console_upstreams": {}})
    app = create_console_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


async def test_no_generated_request_breaks_the_console(clock: ManualClock) -> None:
    async with running_console(clock) as app:
        report = await fuzz_app("console", app, app.state.tokens.mint)
    assert_clean(report)


def test_the_checks_catch_what_they_are_for() -> None:
    def answer(status: int, body: Any, media_type: str = PROBLEM_MEDIA_TYPE) -> httpx.Response:
        content = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(status, content=content, headers={"content-type": media_type})

    good = {"type": "urn:x", "title": "No such record", "status": 404, "detail": "no task 'x'"}
    assert check_answer(answer(404, good)) == []
    assert check_answer(answer(200, {"ok": True}, "application/json")) == []
    assert check_answer(answer(500, {**good, "status": 500})) == ["server error 500"]
    assert check_answer(answer(404, good, "text/plain")) == [
        "error answered as text/plain, not a problem"
    ]
    assert check_answer(answer(404, {**good, "detail": ""})) == ["problem has no detail"]
    assert check_answer(answer(404, {**good, "status": 400})) == ["problem status 400 is not 404"]
    invalid = {**good, "status": 422, "type": "urn:salesops:problem:invalid-request"}
    assert check_answer(answer(422, invalid)) == ["validation problem names no field"]
    assert check_answer(answer(422, {**invalid, "errors": [{"field": "", "reason": "x"}]})) == [
        "problem errors are not a list of {field, reason}"
    ]
    assert (
        check_answer(
            answer(422, {**invalid, "errors": [{"field": "tier", "reason": "is required"}]})
        )
        == []
    )
    trace = 'Traceback (most recent call last):\n  File "/app/x.py", line 3, in f'
    assert check_answer(answer(200, trace, "text/plain")) == ["stack trace in the body"]
    assert check_answer(answer(409, {**good, "status": 409, "detail": "UniqueViolationError"})) == [
        "internal name 'UniqueViolationError' in the body"
    ]
    echo = httpx.Response(
        404,
        content=json.dumps({**good, "detail": "no customer 'KeyError'"}),
        headers={"content-type": PROBLEM_MEDIA_TYPE},
        request=httpx.Request("GET", "http://fuzz/customers/KeyError"),
    )
    assert check_answer(echo) == []
