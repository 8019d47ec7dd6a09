"""SALESOPS_NATS_STREAM_REPLICAS: read and bounded, and it reaches every stream a service makes.

A single JetStream server refuses a stream with more than one replica (err_code 10074), which
is what proves here, without a cluster, that the number is really sent: with the default the
same calls succeed (every other integration test), with 3 the server answers 10074.
"""

from __future__ import annotations

import asyncpg
import pytest
from nats.js import JetStreamContext
from nats.js.errors import APIError

from salesops.consumers import EventConsumers, ReceivedEvent
from salesops.db import DbConnection
from salesops.runtime import ServiceDefinition, start_runtime
from salesops.settings import ConfigurationError, ServiceSettings, load_settings

# JSStreamReplicasNotSupportedErr: "replicas > 1 not supported in non-clustered mode".
REPLICAS_NOT_SUPPORTED = 10074


def test_streams_have_one_replica_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESOPS_DATABASE_URL", "postgresql://db/x")
    monkeypatch.delenv("SALESOPS_NATS_STREAM_REPLICAS", raising=False)
    assert load_settings(ServiceSettings).nats_stream_replicas == 1

    monkeypatch.setenv("SALESOPS_NATS_STREAM_REPLICAS", "3")
    assert load_settings(ServiceSettings).nats_stream_replicas == 3


@pytest.mark.parametrize("value", ["0", "6", "three"])
def test_a_replica_count_outside_one_to_five_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SALESOPS_DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("SALESOPS_NATS_STREAM_REPLICAS", value)
    with pytest.raises(ConfigurationError, match=f"SALESOPS_NATS_STREAM_REPLICAS = '{value}'"):
        load_settings(ServiceSettings)


def _probe(*, publishes: bool) -> ServiceDefinition:
    return ServiceDefinition(
        name="collaboration",  # a known service: subjects are checked
        title="replica probe",
        migrations=(),
        routers=(),
        bootstrap=lambda _runtime: None,
        publishes=publishes,
    )


@pytest.mark.integration
@pytest.mark.parametrize("publishes", [True, False], ids=["service stream", "dead letters"])
async def test_the_runtime_asks_for_the_configured_replicas(
    database_url: str, nats_url: str, namespace: str, schema: str, publishes: bool
) -> None:
    # publishes=False skips the service's own stream, so the dead-letter stream is the one
    # that must carry the number for the start to fail.
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=nats_url,
        nats_namespace=namespace,
        db_schema=schema,
        nats_stream_replicas=3,
    )
    with pytest.raises(APIError) as refused:
        async with start_runtime(_probe(publishes=publishes), settings, poll_timers=False):
            pass
    assert refused.value.err_code == REPLICAS_NOT_SUPPORTED, refused.value


async def _ignore(_conn: DbConnection, _received: ReceivedEvent) -> None:
    return None


@pytest.mark.integration
async def test_consumers_create_a_missing_source_stream_with_the_replicas(
    pool: asyncpg.Pool, js: JetStreamContext, namespace: str
) -> None:
    consumers = EventConsumers(pool, js, service="metrics", namespace=namespace, stream_replicas=3)
    consumers.subscribe("probe", source_service="customers", handler=_ignore)
    try:
        with pytest.raises(APIError) as refused:
            await consumers.start()
    finally:
        await consumers.stop()
    assert refused.value.err_code == REPLICAS_NOT_SUPPORTED, refused.value
