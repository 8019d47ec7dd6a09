"""Tracing and logging: one trace from the HTTP command to the last outgoing call.

The W3C ``traceparent`` travels in each event's metadata (stored with the event) and in
the NATS message headers, so a consumer or a timer continues the trace that wrote it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from pythonjsonlogger.json import JsonFormatter

_propagator = TraceContextTextMapPropagator()
tracer = trace.get_tracer("salesops")

#: Span attributes an SRE searches traces by (Jaeger: Tags ``ticket.id=tkt-...``).
TICKET_ID = "ticket.id"
TICKET_STAGE = "ticket.stage"
TICKET_TEAM = "ticket.team"
TICKET_ESCALATION_LEVEL = "ticket.escalation_level"


def tracing_active() -> bool:
    """Whether spans are recorded at all (an SDK provider is installed); cheap to ask."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def current_traceparent() -> str | None:
    """The ``traceparent`` of the active span, or None outside any trace."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def inject_trace_headers(headers: dict[str, str]) -> None:
    """Add the active span's ``traceparent`` to outgoing message headers."""
    _propagator.inject(headers)


def context_from_traceparent(traceparent: str | None) -> otel_context.Context:
    """A context whose parent is the span named by ``traceparent`` (root if None)."""
    if not traceparent:
        return otel_context.Context()
    return _propagator.extract({"traceparent": traceparent})


def configure_tracing(service_name: str, exporter: SpanExporter | None = None) -> bool:
    """Install an SDK tracer provider when an exporter is configured.

    Uses the given exporter, or OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set;
    otherwise tracing stays a no-op, which costs nothing on the hot path. Returns whether
    a provider was installed. OpenTelemetry allows one provider per process.
    """
    if exporter is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    if exporter is None:
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=trace_sampler()
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True


class _NoOrphanQueries(Sampler):
    """Root decision: everything except a database query outside any trace.

    With asyncpg instrumented, every query makes a span. Inside a command, timer or consumer
    that is what shows the database writes of the trace; outside one it is the relay's,
    poller's and sampler's polling several times a second, which would bury the real traces
    in single-span ones.
    """

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Attributes = None,
        links: Any = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        query = kind is trace.SpanKind.CLIENT and bool(
            attributes and ("db.system" in attributes or "db.system.name" in attributes)
        )
        decision = Decision.DROP if query else Decision.RECORD_AND_SAMPLE
        return SamplingResult(decision, attributes if not query else None, trace_state)

    def get_description(self) -> str:
        return "NoOrphanQueries"


def trace_sampler() -> Sampler:
    """The services' sampler: follow the parent's decision; at a root, drop lone queries."""
    return ParentBased(root=_NoOrphanQueries())


def instrument_database() -> None:
    """Trace asyncpg queries (once per process, and only when spans are recorded at all)."""
    if not tracing_active():
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def ticket_attributes(
    ticket_id: str,
    stage: str | None = None,
    team_id: str | None = None,
    escalation_level: int | None = None,
) -> dict[str, str | int]:
    """The attributes of a span that concerns a ticket (the same names on every service)."""
    found: dict[str, str | int] = {TICKET_ID: ticket_id}
    if stage is not None:
        found[TICKET_STAGE] = str(stage)
    if team_id is not None:
        found[TICKET_TEAM] = team_id
    if escalation_level is not None:
        found[TICKET_ESCALATION_LEVEL] = escalation_level
    return found


def annotate_span(attributes: Mapping[str, str | int]) -> None:
    """Add attributes to the active span (the HTTP request, timer or consumer in hand).

    Costs next to nothing without tracing: the active span is then a non-recording one.
    """
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(attributes)


class _TraceIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        return True


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """JSON logs on stdout, each line carrying the service and, inside a trace, its ids."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_TraceIds())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service_name},
            json_ensure_ascii=False,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request's full URL at INFO: the chat platforms' webhooks carry their
    # credentials in it (DingTalk's access_token and signature, the Feishu hook token in
    # the path, WeCom's corpsecret and access_token), so those lines must never be written.
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def span_attributes(**attributes: Any) -> dict[str, Any]:
    """Drop None values: OpenTelemetry attributes may not be None."""
    return {key: value for key, value in attributes.items() if value is not None}
