"""Wiring of the notifier: events in, deliveries out, on the shared chassis."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from contracts.base import IntegrationEvent
from salesops.clock import real_time_of
from salesops.consumers import ReceivedEvent
from salesops.db import DbConnection
from salesops.orgdir import Channel as DirectoryChannel
from salesops.orgdir import Person
from salesops.recording import EventRecorder
from salesops.runtime import ServiceDefinition, ServiceRuntime
from salesops.telemetry import annotate_span, ticket_attributes
from services.notifier import http, store
from services.notifier.channels_chat_cn import DingTalkRobot, WeComApp, WeComRobot
from services.notifier.channels_other import FeishuBot, SignedWebhook, SmtpEmail
from services.notifier.delivery import DeliveryWorker, Planned, plan_deliveries
from services.notifier.messages import Channel, Recipient
from services.notifier.routing import RoutingRules, load_routing_rules, route
from services.notifier.settings import NotifierSettings, QuietHoursBook
from services.notifier.templates import render

log = logging.getLogger(__name__)
SOURCES = ("customers", "tasks", "collaboration")


def build_channels(
    settings: NotifierSettings, runtime: ServiceRuntime, client: httpx.AsyncClient
) -> dict[str, Channel]:
    """The adapters whose endpoints are configured, keyed by the directory's channel names."""
    # Signature timestamps and access-token lifetimes are checked by the platforms against
    # their own clocks: real time, even while a demo runs business time faster.
    clock = real_time_of(runtime.clock)
    channels: dict[str, Channel] = {}
    if settings.dingtalk_webhook:
        channels["dingtalk"] = DingTalkRobot(
            webhook_url=settings.dingtalk_webhook,
            secret=settings.dingtalk_secret,
            http=client,
            clock=clock,
        )
    # WeCom: a direct application message when configured, else the group robot.
    if settings.wecom_corp_id and settings.wecom_corp_secret and settings.wecom_agent_id:
        channels["wecom"] = WeComApp(
            api_base=settings.wecom_api_base,
            corp_id=settings.wecom_corp_id,
            corp_secret=settings.wecom_corp_secret,
            agent_id=settings.wecom_agent_id,
            http=client,
            clock=clock,
        )
    elif settings.wecom_webhook:
        channels["wecom"] = WeComRobot(webhook_url=settings.wecom_webhook, http=client)
    if settings.feishu_webhook:
        channels["feishu"] = FeishuBot(
            webhook_url=settings.feishu_webhook,
            secret=settings.feishu_secret,
            http=client,
            clock=clock,
        )
    if settings.smtp_host:
        channels["email"] = SmtpEmail(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
        )
    if settings.webhook_url and settings.webhook_secret:
        channels["webhook"] = SignedWebhook(
            url=settings.webhook_url, secret=settings.webhook_secret, http=client, clock=clock
        )
    return channels


class Notifier:
    """Turns each event into deliveries (routing, templates, quiet hours) and sends them."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        settings: NotifierSettings,
        channels: dict[str, Channel],
        rules: RoutingRules,
        quiet: QuietHoursBook,
        client: httpx.AsyncClient,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.channels = channels
        self.rules = rules
        self.quiet = quiet
        self.client = client
        self.recorder = EventRecorder(runtime.store, lambda _recorded, _events: [])
        self.worker = DeliveryWorker(
            runtime.pool, self.recorder, channels, runtime.clock, metrics=runtime.metrics
        )

    def _reach(self, person: Person, preferred: str) -> tuple[str, Recipient] | None:
        """The preferred channel if configured and addressable, else the person's next one."""
        names = [preferred, *(str(c) for c in person.channels())]
        for name in names:
            if name not in self.channels:
                continue
            address = person.address_for(DirectoryChannel(name))
            if address:
                return name, Recipient(person.id, person.name, address, person.mobile)
        return None

    def _hold_until(self, person_id: str, now: datetime) -> datetime | None:
        hours = self.quiet.people.get(person_id)
        policy = self.runtime.policy
        if hours is None or not hours.contains(now.astimezone(policy.timezone).time()):
            return None
        return policy.next_business_time(hours.end, now)

    def plan(self, event: IntegrationEvent, now: datetime) -> list[Planned]:
        planned = []
        directory = self.runtime.directory
        for target in route(event, self.rules, directory):
            person = directory.person(target.person_id)
            reach = self._reach(person, target.channel)
            if reach is None:
                log.warning(
                    "no configured channel reaches %s for %s", person.id, event.event_type()
                )
                continue
            name, recipient = reach
            message = dataclasses.replace(
                render(
                    event,
                    language=self.settings.language,
                    base_url=self.settings.base_url,
                    directory=directory,
                ),
                urgent=target.urgent,
            )
            # Escalations are never held back by quiet hours.
            hold = None if target.urgent else self._hold_until(person.id, now)
            planned.append(
                Planned(
                    person.id,
                    name,
                    self.channels[name].robot_key(recipient),
                    recipient,
                    message,
                    target.urgent,
                    hold,
                )
            )
        return planned

    async def on_event(self, conn: DbConnection, received: ReceivedEvent) -> None:
        now = self.runtime.clock.now()
        event = received.event()
        about = trace_attributes_of(event)
        annotate_span(about)  # the consumer's span, found by ticket id like the rest
        await plan_deliveries(
            conn,
            event_id=received.envelope.id,
            event_type=event.event_type(),
            planned=self.plan(event, now),
            now=now,
            trace_attributes=about,
        )

    async def send_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.worker.tick()
            except Exception:  # the loop must survive a database or platform hiccup
                log.exception("notification sender failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)


def trace_attributes_of(event: IntegrationEvent) -> dict[str, str | int]:
    """What a ticket event is about, as span attributes (empty for other events)."""
    ticket_id = getattr(event, "ticket_id", None)
    if not isinstance(ticket_id, str):
        return {}
    stage = getattr(event, "stage", None)
    level = getattr(event, "escalation_level", None)
    return ticket_attributes(
        ticket_id,
        str(stage) if stage is not None else None,
        getattr(event, "team_id", None),
        level if isinstance(level, int) else None,
    )


def bootstrap(runtime: ServiceRuntime) -> Notifier:
    settings = NotifierSettings()
    client = httpx.AsyncClient(timeout=10)
    notifier = Notifier(
        runtime,
        settings,
        build_channels(settings, runtime, client),
        load_routing_rules(settings.routing_file),
        QuietHoursBook.load(settings.quiet_hours_file),
        client,
    )
    for source in SOURCES:
        runtime.consumers.subscribe(
            f"fan_out_{source}", source_service=source, handler=notifier.on_event
        )
    return notifier


def workers(notifier: Notifier) -> Sequence[Any]:
    loops: list[Any] = [notifier.send_loop]
    return loops


NOTIFIER = ServiceDefinition(
    name="notifier",
    title="Notifier",
    migrations=store.MIGRATIONS,
    routers=[http.router],
    bootstrap=bootstrap,
    workers=workers,
    # A delivery's outcomes (NotificationDelivered / NotificationFailed) by delivery id.
    audit_stream=lambda delivery_id: f"delivery-{delivery_id}",
)
