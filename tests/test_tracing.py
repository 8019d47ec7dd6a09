"""One trace from the HTTP command through the event store, the relay and NATS to a consumer."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from salesops.clock import ManualClock
from salesops.consumers import EventConsumers, ReceivedEvent
from salesops.db import DbConnection
from salesops.testing.apps import RunningService, running_service
from salesops.testing.waiting import eventually
from services.notifier.platform_fakes import dingtalk_server
from services.notifier.service import NOTIFIER

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


async def test_one_trace_runs_from_the_http_command_to_the_dingtalk_message(
    spans: InMemorySpanExporter,
    customers: RunningService,
    database_url: str,
    nats_url: str,
    namespace: str,
    schema: str,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with dingtalk_server(secret="SEC-trace", clock=clock) as robot:
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_WEBHOOK", robot.webhook_url)
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_SECRET", "SEC-trace")
        async with running_service(
            NOTIFIER,
            database_url=database_url,
            nats_url=nats_url,
            namespace=namespace,
            schema=f"{schema}_notifier",
            clock=clock,
        ) as notifier:
            rep = customers.auth("rep-zhang-wei")
            created = await customers.client.post(
                "/customers",
                json={"name": "无锡华光", "tier": "A", "estimated_contribution": "5"},
                headers=rep,
            )
            spans.clear()
            changed = await customers.client.put(
                f"/customers/{created.json()['customer_id']}/decision-state",
                json={"state": "budget_pending"},
                headers=rep,
            )
            assert changed.status_code == 200

            async def planned() -> bool:
                return bool(
                    await notifier.runtime.pool.fetchval(
                        "SELECT count(*) FROM deliveries WHERE event_type = 'DecisionStateChanged'"
                    )
                )

            await eventually(planned)
            assert await notifier.app.state.service.worker.tick() == 1

    finished = spans.get_finished_spans()
    http = next(s for s in finished if s.name.startswith("PUT /customers"))
    send = next(s for s in finished if s.name == "send dingtalk")
    assert trace_of(send) == trace_of(http)
    assert robot.received[0].verified
