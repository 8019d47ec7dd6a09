"""The live projection: consumed events into the inbox and the active generation's facts.

One batch of events per transaction (the consumer records them as processed in the same
transaction, so a redelivery changes nothing): keep every event in the inbox, the history
a rebuild replays; merge what the known ones change and upsert each touched row once;
tell the dashboards something changed (``NOTIFY``, so every replica's pages hear it).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from salesops.consumers import EventConsumers, ReceivedEvent
from salesops.db import DbConnection
from services.metrics import fact_sql
from services.metrics.fact_batch import FactBatch
from services.metrics.facts import EventMeta
from services.metrics.generations import ReadModel
from services.metrics.inbox import keep_in_inbox, known_event
from services.metrics.projection import project

#: The services whose events the figures are made of; ``finance`` are outside systems.
SOURCES = ("customers", "tasks", "collaboration", "finance")


class LiveProjection:
    """Applies consumed batches to the live generation of the read model."""

    def __init__(self, read_model: ReadModel, channel: str) -> None:
        self.read_model = read_model
        self.channel = channel

    async def apply(self, conn: DbConnection, batch: Sequence[ReceivedEvent]) -> None:
        schema = await self.read_model.hold_shared(conn)
        await keep_in_inbox(conn, batch)
        facts = FactBatch()
        for received in batch:
            event = known_event(received.envelope)
            if event is not None:
                meta = EventMeta(UUID(received.envelope.id), received.envelope.time)
                facts.add_all(project(event, meta))
        await fact_sql.upsert(conn, schema, facts)
        if len(facts):
            await conn.execute("SELECT pg_notify($1, $2)", self.channel, schema)

    def follow(self, consumers: EventConsumers) -> None:
        """Subscribe to every event of every source (all are kept, the known ones projected)."""
        for source in SOURCES:
            consumers.subscribe_batch(f"facts_{source}", source_service=source, handler=self.apply)
