"""JetStream streams of the services: one per publishing service, plus dead letters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from contracts.subjects import (
    dead_letter_stream_name,
    dead_letter_subjects,
    service_subjects,
    stream_name_for,
)

# JetStream drops a second message with the same Nats-Msg-Id within this window. The relay
# republishes only what it published but could not mark yet, seconds later at most.
DUPLICATE_WINDOW = timedelta(minutes=10)


async def connect_nats(
    url: str,
    *,
    name: str,
    user: str | None = None,
    password: str | None = None,
    **options: Any,
) -> NatsClient:
    """A NATS connection that keeps reconnecting for ever instead of giving up.

    ``user``/``password``: one of the users of deploy/nats/authorization.conf; None on a
    server without authorization. A refused password is retried like an absent server.
    """
    return await nats.connect(
        servers=url.split(","),
        name=name,
        user=user,
        password=password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        **options,
    )


async def _ensure(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        try:
            await js.add_stream(config)
        except BadRequestError as exc:  # another replica created it meanwhile
            if exc.err_code != 10058:  # stream name already in use
                raise
        return
    await js.update_stream(config)


async def ensure_service_stream(
    js: JetStreamContext, service: str, namespace: str = "", *, replicas: int = 1
) -> str:
    """Create or update the stream holding ``sales.<service>.>``; returns its name."""
    name = stream_name_for(service, namespace)
    await _ensure(
        js,
        StreamConfig(
            name=name,
            subjects=[service_subjects(service, namespace)],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW.total_seconds(),
            num_replicas=replicas,
        ),
    )
    return name


async def ensure_dead_letter_stream(
    js: JetStreamContext, namespace: str = "", *, replicas: int = 1
) -> str:
    """Create or update the stream that keeps dead letters visible; returns its name."""
    name = dead_letter_stream_name(namespace)
    await _ensure(
        js,
        StreamConfig(
            name=name,
            subjects=[dead_letter_subjects(namespace)],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW.total_seconds(),
            num_replicas=replicas,
        ),
    )
    return name
