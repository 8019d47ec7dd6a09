"""What a running service holds: connections, stores, the clock, the directory and policy.

Built once per process in the chassis lifespan and handed to the service's bootstrap;
nothing here is a module-level global, so tests build as many as they like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from contracts.subjects import dead_letter_stream_name
from salesops.auth import TokenIssuer
from salesops.clock import Clock, real_time_of
from salesops.consumers import EventConsumers
from salesops.db import Migration, apply_migrations, create_pool
from salesops.eventstore import EventStore
from salesops.jetstream import connect_nats, ensure_dead_letter_stream, ensure_service_stream
from salesops.oidc import OidcVerifier
from salesops.opsmetrics import MetricsSampler, OperationalMetrics
from salesops.orgdir import OrgDirectory, load_org_directory
from salesops.outbox import OutboxRelay
from salesops.policy import Policy, load_policy
from salesops.runtime_migrations import RUNTIME_MIGRATIONS
from salesops.settings import ServiceSettings
from salesops.timers import TimerHandler, TimerPoller

log = logging.getLogger(__name__)


@dataclass
class ServiceRuntime:
    """The shared runtime of one service process."""

    name: str
    settings: ServiceSettings
    clock: Clock
    directory: OrgDirectory
    policy: Policy
    tokens: TokenIssuer
    pool: asyncpg.Pool
    nats: NatsClient
    js: JetStreamContext
    store: EventStore
    consumers: EventConsumers
    timer_poller: TimerPoller | None = None
    #: Verifies the company's OIDC provider's tokens, when one is configured.
    oidc: OidcVerifier | None = None
    #: Counters and sampled gauges served on /metrics (the chassis's registry).
    metrics: OperationalMetrics = field(default_factory=OperationalMetrics)
    sampler: MetricsSampler | None = None
    background: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def schema(self) -> str:
        return self.settings.schema_for(self.name)

    @property
    def namespace(self) -> str:
        return self.settings.nats_namespace

    async def ready(self) -> dict[str, str]:
        """What is not reachable right now (empty when ready)."""
        problems: dict[str, str] = {}
        try:
            async with asyncio.timeout(2):
                await self.pool.fetchval("SELECT 1")
        except Exception as exc:
            problems["database"] = f"{type(exc).__name__}: {exc}"
        if not self.nats.is_connected:
            problems["nats"] = "not connected"
        return problems


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes a service itself; the chassis supplies everything else.

    ``bootstrap`` wires the service's handlers on the runtime and returns its own
    container (kept at ``app.state.service``); it may register consumers on
    ``runtime.consumers``. ``timers`` maps timer kinds to handlers built from that container.
    """

    name: str
    title: str
    migrations: Sequence[Migration]
    routers: Sequence[Any]
    bootstrap: Callable[[ServiceRuntime], Any]
    timers: Callable[[Any], Mapping[str, TimerHandler]] = lambda _service: {}
    #: Runs once the runtime is up, before serving (e.g. to ensure recurring timers exist).
    on_start: Callable[[Any], Awaitable[None]] | None = None
    #: Loops run in the background until shutdown, each given the stop event (e.g. a sender).
    workers: Callable[[Any], Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]] = (
        lambda _service: ()
    )
    publishes: bool = True
    #: The event stream holding a record's history, for ``GET /audit/records/{record_id}``
    #: (a customer id -> ``customer-<id>``); by default the record id is the stream id.
    audit_stream: Callable[[str], str] = lambda record_id: record_id


@contextlib.asynccontextmanager
async def start_runtime(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    *,
    clock: Clock | None = None,
    directory: OrgDirectory | None = None,
    policy: Policy | None = None,
    poll_timers: bool = True,
    metrics: OperationalMetrics | None = None,
) -> AsyncIterator[tuple[ServiceRuntime, Any]]:
    """Connect, migrate, start the relay, timers and consumers; stop them all on exit."""
    # The wall clock, or a demo's accelerated business time (SALESOPS_CLOCK_*).
    clock = clock or settings.business_clock()
    metrics = metrics or OperationalMetrics()
    directory = directory or load_org_directory(settings.org_file)
    policy = policy or load_policy(settings.policy_file)
    schema = settings.schema_for(definition.name)
    pool = await create_pool(settings.database_url, schema)
    # Known from here on so that a start failing half-way stops what already runs too.
    nc: NatsClient | None = None
    runtime: ServiceRuntime | None = None
    try:
        await apply_migrations(pool, schema, [*RUNTIME_MIGRATIONS, *definition.migrations])
        password = settings.nats_password
        nc = await connect_nats(
            settings.nats_url,
            name=f"salesops-{definition.name}",
            user=settings.nats_user,
            password=password.get_secret_value() if password is not None else None,
            # Replies (JetStream acks, pulled messages) on an inbox of the service's own:
            # its NATS user may subscribe to nothing else (deploy/nats/authorization.conf).
            inbox_prefix=f"_INBOX_{definition.name}",
        )
        js = nc.jetstream()
        if definition.publishes:
            await ensure_service_stream(
                js,
                definition.name,
                settings.nats_namespace,
                replicas=settings.nats_stream_replicas,
            )
        await ensure_dead_letter_stream(
            js, settings.nats_namespace, replicas=settings.nats_stream_replicas
        )
        runtime = ServiceRuntime(
            name=definition.name,
            settings=settings,
            clock=clock,
            directory=directory,
            policy=policy,
            # Credentials live in real time, whatever pace business time keeps.
            tokens=TokenIssuer(settings.jwt_secret, settings.jwt_issuer, real_time_of(clock)),
            oidc=_oidc_verifier(settings, directory, real_time_of(clock)),
            pool=pool,
            nats=nc,
            js=js,
            store=EventStore(pool, clock, metrics=metrics),
            metrics=metrics,
            consumers=EventConsumers(
                pool,
                js,
                service=definition.name,
                namespace=settings.nats_namespace,
                stream_replicas=settings.nats_stream_replicas,
                ack_wait=settings.consumer_ack_wait_seconds,
            ),
        )
        service = definition.bootstrap(runtime)
        if definition.on_start is not None:
            await definition.on_start(service)
        if definition.publishes:
            relay = OutboxRelay(
                pool,
                js,
                service=definition.name,
                schema=schema,
                namespace=settings.nats_namespace,
                batch_size=settings.relay_batch_size,
                metrics=metrics,
            )
            # What this process appends is published at once, not at the relay's next tick.
            runtime.store.on_append = relay.wake
            runtime.background.append(asyncio.create_task(relay.run(runtime.stop)))
        timer_handlers = definition.timers(service)
        if timer_handlers:
            runtime.timer_poller = TimerPoller(
                pool,
                clock,
                timer_handlers,
                poll_interval=settings.timer_poll_seconds,
                metrics=metrics,
            )
            # Tests that move a manual clock fire timers (and run workers) themselves.
            if poll_timers:
                runtime.background.append(
                    asyncio.create_task(runtime.timer_poller.run(runtime.stop))
                )
        if poll_timers:
            for worker in definition.workers(service):
                runtime.background.append(asyncio.create_task(worker(runtime.stop)))
        runtime.sampler = MetricsSampler(
            metrics,
            pool,
            clock,
            js=js,
            consumers=runtime.consumers,
            dead_letter_stream=dead_letter_stream_name(settings.nats_namespace),
        )
        # Like the timers: tests with a manual clock sample when they want to look.
        if poll_timers:
            runtime.background.append(
                asyncio.create_task(
                    runtime.sampler.run(runtime.stop, settings.metrics_sample_seconds)
                )
            )
        await runtime.consumers.start()
        yield runtime, service
    finally:
        if runtime is not None:
            runtime.stop.set()
            await asyncio.gather(*runtime.background, return_exceptions=True)
            await _quietly("stop consumers", runtime.consumers.stop())
            if runtime.oidc is not None:
                await _quietly("close the OIDC client", runtime.oidc.aclose())
        if nc is not None:
            await _quietly("drain NATS", nc.drain())
            if not nc.is_closed:
                await _quietly("close NATS", nc.close())
        await _quietly("close database pool", pool.close())


def _oidc_verifier(
    settings: ServiceSettings, directory: OrgDirectory, clock: Clock
) -> OidcVerifier | None:
    config = settings.oidc()
    if config is None:
        return None
    # One client per process, closed with it; the keys are fetched rarely (cached).
    return OidcVerifier(config, directory, clock, httpx.AsyncClient(timeout=5))


async def _quietly(step: str, action: Awaitable[Any]) -> None:
    """Shut down as far as possible: a server already gone must not stop the rest."""
    try:
        async with asyncio.timeout(10):
            await action
    except Exception as exc:
        log.warning("shutdown: could not %s: %s", step, exc)
