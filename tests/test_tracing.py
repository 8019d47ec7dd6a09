"""One trace from the HTTP command through the event store, the relay and NATS to a consumer."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from salesops.consumers import EventConsumers, ReceivedEvent
from salesops.db import DbConnection
from salesops.testing.apps import RunningService

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    # OpenTelemetry takes one provider per process; install it before any app is built.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def traced_customers(spans: InMemorySpanExporter, customers: RunningService) -> RunningService:
    spans.clear()
    return customers


def trace_of(span: ReadableSpan) -> int:
    assert span.context is not None
    trace_id: int = span.context.trace_id
    return trace_id


async def test_a_decision_state_change_is_one_trace_from_http_to_the_consumer(
    traced_customers: RunningService, spans: InMemorySpanExporter, nats_url: str, namespace: str
) -> None:
    service = traced_customers
    consumed: asyncio.Queue[int] = asyncio.Queue()

    async def remember_trace(conn: DbConnection, received: ReceivedEvent) -> None:
        await consumed.put(trace.get_current_span().get_span_context().trace_id)

    consumers = EventConsumers(
        service.runtime.pool, service.runtime.js, service="metrics", namespace=namespace
    )
    consumers.subscribe(
        "trace_probe",
        source_service="customers",
        handler=remember_trace,
        event_types=["DecisionStateChanged"],
    )
    await consumers.start()
    try:
        rep = service.auth("rep-zhang-wei")
        created = await service.client.post(
            "/customers",
            json={"name": "无锡华光", "tier": "A", "estimated_contribution": "5"},
            headers=rep,
        )
        spans.clear()
        changed = await service.client.put(
            f"/customers/{created.json()['customer_id']}/decision-state",
            json={"state": "intent_confirmed"},
            headers=rep,
        )
        assert changed.status_code == 200, changed.text
        consumer_trace = await asyncio.wait_for(consumed.get(), 15)
    finally:
        await consumers.stop()

    finished = spans.get_finished_spans()

    def about_the_change(kind: str) -> ReadableSpan:
        matching = [
            s
            for s in finished
            if s.name.startswith(kind) and s.name.endswith("decision_state_changed")
        ]
        assert len(matching) == 1, [s.name for s in finished]
        return matching[0]

    http = next(s for s in finished if s.name.startswith("PUT /customers"))
    publish = about_the_change("publish ")
    consume = about_the_change("consume ")
    assert trace_of(publish) == trace_of(http)
    assert consumer_trace == trace_of(http)
    assert consume.parent is not None
    assert publish.context is not None
    assert consume.parent.span_id == publish.context.span_id
