"""One trace from the HTTP command through the event store, the relay and NATS to a consumer,
and for an SLA escalation on through the timer that fires hours later to DingTalk and e-mail."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from salesops.clock import ManualClock
from salesops.consumers import EventConsumers, ReceivedEvent
from salesops.db import DbConnection
from salesops.orgdir import load_org_directory
from salesops.settings import REPO_ROOT
from salesops.telemetry import trace_sampler
from salesops.testing.apps import RunningService, ServiceStarter
from salesops.testing.commands import submit_ticket
from salesops.testing.events import publish_customer_registered, until_customers_known
from salesops.testing.waiting import eventually
from services.notifier.platform_fakes import dingtalk_server
from services.notifier.platform_fakes_other import smtp_server
from services.notifier.service import NOTIFIER

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    # OpenTelemetry takes one provider per process; install it before any app is built.
    exporter = InMemorySpanExporter()
    # The services' own sampler: queries outside any trace (pollers) are not recorded.
    provider = TracerProvider(sampler=trace_sampler())
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
    clock: ManualClock,
    start_service: ServiceStarter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with dingtalk_server(secret="SEC-trace", clock=clock) as robot:
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_WEBHOOK", robot.webhook_url)
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_SECRET", "SEC-trace")
        async with start_service(NOTIFIER, own_schema=True) as notifier:
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


# --------------------------------------------------------------------------- SLA escalation

REP = "rep-zhang-wei"
LEAD = "tl-gao-jianjun"  # tech-electrical: te-luo-bin -> tl-gao-jianjun -> td-zheng-lixin
SECRET = "SEC-sla-trace"


def org_with_the_lead_on_dingtalk(tmp_path: Path) -> Path:
    """deploy/org.yaml, but the electrical lead is reached on DingTalk (the engineer by e-mail),
    so one escalation goes out over both an HTTP robot and SMTP."""
    org = yaml.safe_load((REPO_ROOT / "deploy" / "org.yaml").read_text(encoding="utf-8"))
    lead = next(p for p in org["people"] if p["id"] == LEAD)
    lead.update(dingtalk_user_id="gaojianjun", preferred_channel="dingtalk")
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
    load_org_directory(path)  # still a valid directory
    return path


def one(spans: Sequence[ReadableSpan], name_ends: str, **attributes: object) -> ReadableSpan:
    found = [
        s
        for s in spans
        if s.name.endswith(name_ends)
        and all((s.attributes or {}).get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, (name_ends, attributes, [s.name for s in spans])
    return found[0]


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return (
        span.parent is not None
        and parent.context is not None
        and span.parent.span_id == parent.context.span_id
    )


async def test_an_sla_escalation_is_one_trace_from_the_ticket_to_dingtalk_and_email(
    spans: InMemorySpanExporter,
    collaboration: RunningService,
    js: JetStreamContext,
    namespace: str,
    clock: ManualClock,
    start_service: ServiceStarter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await publish_customer_registered(js, namespace, customer_id="cus-1", owner_id=REP, name="宁波")
    await until_customers_known(collaboration, 1)
    async with (
        dingtalk_server(secret=SECRET, clock=clock) as robot,
        smtp_server(security="none") as mailbox,
    ):
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_WEBHOOK", robot.webhook_url)
        monkeypatch.setenv("SALESOPS_NOTIFY_DINGTALK_SECRET", SECRET)
        monkeypatch.setenv("SALESOPS_NOTIFY_SMTP_HOST", mailbox.host)
        monkeypatch.setenv("SALESOPS_NOTIFY_SMTP_PORT", str(mailbox.port))
        monkeypatch.setenv("SALESOPS_NOTIFY_SMTP_SECURITY", "none")
        monkeypatch.setenv("SALESOPS_ORG_FILE", str(org_with_the_lead_on_dingtalk(tmp_path)))
        async with start_service(NOTIFIER, own_schema=True) as notifier:
            spans.clear()
            submitted = await submit_ticket(collaboration, "cus-1", who=REP)
            assert submitted.status_code == 201, submitted.text
            ticket_id = submitted.json()["ticket_id"]

            # Two hours later, by the clock, not by sleeping: the tech window has passed.
            clock.advance(timedelta(hours=2, minutes=1))
            assert await collaboration.fire_due_timers() == 1

            async def escalation_planned() -> bool:
                # TicketTimedOut and TicketEscalated, each to the engineer and the lead.
                planned = await notifier.runtime.pool.fetchval(
                    "SELECT count(*) FROM deliveries"
                    " WHERE event_type IN ('TicketTimedOut', 'TicketEscalated')"
                )
                return bool(planned == 4)

            await eventually(escalation_planned)
            # + the dispatch notice the engineer got by e-mail when the ticket came in.
            assert await notifier.app.state.service.worker.tick() == 5

    assert len(robot.verified) == 2  # the lead, on a signed robot
    assert {m.rcpt_tos[0] for m in mailbox.messages} == {"luo.bin@hengyuan.example.com"}

    async def all_ended() -> bool:
        return sum(s.name.startswith("send ") for s in spans.get_finished_spans()) == 5

    await eventually(all_ended)
    finished = spans.get_finished_spans()
    ticket = {"ticket.id": ticket_id}
    http = one(finished, "POST /tickets", **ticket, **{"ticket.stage": "tech_answer"})
    assert http.kind is trace.SpanKind.SERVER
    trace_id = trace_of(http)

    # The command's database write (and the SQL under it), then the timer hours later.
    append_at_submit = next(
        s for s in finished if s.name == "eventstore append" and child_of(s, http)
    )
    assert (append_at_submit.attributes or {})["salesops.event.types"] == (
        "TicketSubmitted",
        "TicketDispatched",
    )
    assert any(
        child_of(s, append_at_submit) and (s.attributes or {}).get("db.system") == "postgresql"
        for s in finished
    )
    timer = one(finished, "timer collaboration.stage_due")
    assert child_of(timer, http)
    assert {k: (timer.attributes or {}).get(k) for k in ("ticket.id", "ticket.stage")} == {
        "ticket.id": ticket_id,
        "ticket.stage": "tech_answer",
    }
    assert (timer.attributes or {})["ticket.escalation_level"] == 1
    append_at_timeout = next(
        s for s in finished if s.name == "eventstore append" and child_of(s, timer)
    )
    assert (append_at_timeout.attributes or {})["salesops.event.types"] == (
        "TicketTimedOut",
        "TicketEscalated",
    )

    escalation = {**ticket, "ticket.stage": "tech_answer", "ticket.escalation_level": 1}
    sends = []
    for event in ("ticket_timed_out", "ticket_escalated"):
        publish = one(finished, f"sales.collaboration.{event}", **{"messaging.system": "nats"})
        assert publish.kind is trace.SpanKind.PRODUCER
        assert child_of(publish, timer)
        consume = one(
            finished,
            f"sales.collaboration.{event}",
            **{"messaging.consumer.group.name": "notifier_fan_out_collaboration"},
        )
        assert consume.kind is trace.SpanKind.CONSUMER
        assert child_of(consume, publish)
        assert escalation.items() <= dict(consume.attributes or {}).items()
        under = [s for s in finished if s.name.startswith("send ") and child_of(s, consume)]
        assert sorted(s.name for s in under) == ["send dingtalk", "send email"]
        for send in under:
            assert send.kind is trace.SpanKind.CLIENT
            assert escalation.items() <= dict(send.attributes or {}).items()
            assert (send.attributes or {})["salesops.delivery.ok"] is True
        sends += under

    # ONE trace: HTTP request, database writes, timer, publishes, consumers, DingTalk, SMTP.
    chain = [http, append_at_submit, timer, append_at_timeout, *sends]
    assert {trace_of(s) for s in chain} == {trace_id}
    assert {trace_of(s) for s in finished if s.name.startswith("send ")} == {trace_id}
