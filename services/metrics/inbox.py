"""The inbox: every consumed event, kept in arrival order, and reading it back.

The figures are projections of these rows; a rebuild replays them. Events of a type or
schema version this code does not know are kept too (a later version may project them)
and skipped by the projection, live and in a rebuild alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from contracts.base import IntegrationEvent
from contracts.envelope import Envelope
from contracts.registry import UnknownEventType, UnsupportedSchemaVersion, event_class_for_subject
from contracts.subjects import parse_subject, subject_for
from salesops.consumers import ReceivedEvent
from salesops.db import DbConnection

log = logging.getLogger(__name__)


def known_event(envelope: Envelope) -> IntegrationEvent | None:
    """The payload as its contract, or None for an event type or version this code predates.

    Such events stay in the inbox: a later version of the service can project them in a
    rebuild. A known event with a malformed payload raises (and is dead-lettered).
    """
    try:
        return envelope.event()
    except (UnknownEventType, UnsupportedSchemaVersion) as exc:
        log.info("keeping %s in the inbox only: %s", envelope.type, exc)
        return None


def unnamespaced(subject: str) -> str:
    """``t1.sales.tasks.task_submitted`` -> ``sales.tasks.task_submitted``."""
    parsed = parse_subject(subject)
    return subject_for(parsed.service, parsed.event)


async def keep_in_inbox(conn: DbConnection, batch: Sequence[ReceivedEvent]) -> None:
    envelopes = [received.envelope for received in batch]
    await conn.execute(
        "INSERT INTO inbox (event_id, subject, schema_version, occurred_at, actor, data)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[],"
        " $5::text[], $6::jsonb[]) ON CONFLICT (event_id) DO NOTHING",
        [e.id for e in envelopes],
        [unnamespaced(e.type) for e in envelopes],
        [e.schemaversion for e in envelopes],
        [e.time for e in envelopes],
        [e.actor for e in envelopes],
        [e.data for e in envelopes],
    )


@lru_cache(maxsize=256)
def _readable_class(subject: str, schema_version: int) -> type[IntegrationEvent] | None:
    try:
        cls = event_class_for_subject(subject)
    except UnknownEventType:
        return None
    return cls if cls.schema_version == schema_version else None


def stored_event(subject: str, schema_version: int, data: str) -> IntegrationEvent | None:
    """An inbox row's payload as its contract, or None where :func:`known_event` skips it."""
    cls = _readable_class(subject, schema_version)
    return None if cls is None else cls.model_validate_json(data)
