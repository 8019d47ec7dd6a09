"""The service chassis: one FastAPI app factory for every service.

Adds what every service has — authentication, problem responses, ``/healthz``,
``/readyz``, ``/metrics``, ``/audit/records/{id}``, OpenAPI docs, tracing, graceful start
and stop — around the routers and bootstrap of a :class:`ServiceDefinition`.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry import context as otel_context
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesops.audit import audit_router
from salesops.clock import Clock
from salesops.opsmetrics import OperationalMetrics
from salesops.orgdir import OrgDirectory
from salesops.policy import Policy
from salesops.problems import install_problem_handlers
from salesops.runtime import ServiceDefinition, start_runtime
from salesops.settings import ServiceSettings
from salesops.telemetry import context_from_traceparent


class _HttpMetrics:
    """Plain ASGI middleware: request counts and latency by route template."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            # Route templates, not raw paths: customer ids must not explode the label set.
            path = getattr(route, "path", "unmatched")
            self.requests.labels(scope["method"], path, str(status)).inc()
            self.latency.labels(scope["method"], path).observe(time.perf_counter() - started)


class _CallersTrace:
    """Without tracing, still continue the caller's W3C trace (its ``traceparent`` header).

    The events a request causes then store the caller's trace id, so the audit query can
    say which request changed a record even where no spans are recorded; with tracing on,
    the OpenTelemetry instrumentation does this (and records the request's own span).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        traceparent = None
        if scope["type"] == "http":
            traceparent = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"traceparent"), None
            )
        if traceparent is None:
            await self.app(scope, receive, send)
            return
        token = otel_context.attach(context_from_traceparent(traceparent))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


# FastAPI's own OpenTelemetry middleware (FastAPI 0.16x) asks the global providers on every
# request, about 4% of a command's CPU; traces come from FastAPIInstrumentor when tracing
# is configured (_instrument), metrics from Prometheus. Older FastAPI has no such option.
_NO_NATIVE_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def create_service_app(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    *,
    clock: Clock | None = None,
    directory: OrgDirectory | None = None,
    policy: Policy | None = None,
    poll_timers: bool = True,
) -> FastAPI:
    """The ASGI app of one service; connections open in its lifespan, not at import."""
    registry = CollectorRegistry()
    # The runtime's counters and sampled gauges go to the registry /metrics serves.
    operational = OperationalMetrics(registry)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with start_runtime(
            definition,
            settings,
            clock=clock,
            directory=directory,
            policy=policy,
            poll_timers=poll_timers,
            metrics=operational,
        ) as (runtime, service):
            app.state.runtime = runtime
            app.state.service = service
            yield

    app = FastAPI(
        title=f"Sales Action Engine — {definition.title}",
        version="0.1.0",
        lifespan=lifespan,
        **_NO_NATIVE_TELEMETRY,
    )
    app.add_middleware(_HttpMetrics, registry=registry)
    install_problem_handlers(app)
    for router in definition.routers:
        app.include_router(router)
    app.include_router(audit_router(definition.name, definition.audit_stream))

    @app.get("/healthz", tags=["operations"], summary="Alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": definition.name}

    @app.get("/readyz", tags=["operations"], summary="Database and NATS reachable")
    async def readyz(request: Request) -> JSONResponse:
        runtime = getattr(request.app.state, "runtime", None)
        problems = {"service": "starting"} if runtime is None else await runtime.ready()
        status = 503 if problems else 200
        body: dict[str, Any] = {"status": "not ready" if problems else "ready", **problems}
        return JSONResponse(body, status_code=status)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    _instrument(app)
    return app


def _instrument(app: FastAPI) -> None:
    from salesops.telemetry import instrument_database, tracing_active

    if not tracing_active():
        # No spans recorded here: still carry the caller's trace id into the events.
        app.add_middleware(_CallersTrace)
    else:
        # Only when a real provider is installed: the instrumentation costs on every request.
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
        # The database writes of a command, timer or consumer appear in its trace.
        instrument_database()
