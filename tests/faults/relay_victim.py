"""A relay process that kills itself (SIGKILL) between publishing and marking published.

Run by test_relay_killed: ``python relay_victim.py DSN SCHEMA NATS_URL NAMESPACE``. It
publishes one batch of the outbox, waits for JetStream's acks, and dies in the window the
outbox design is about: the messages are in the stream, the outbox rows still there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from salesops.db import create_pool
from salesops.jetstream import connect_nats
from salesops.outbox import OutboxRelay


def die(_positions: list[int]) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(dsn: str, schema: str, nats_url: str, namespace: str) -> None:
    pool = await create_pool(dsn, schema, min_size=1, max_size=2)
    nc = await connect_nats(nats_url, name="relay-victim")
    relay = OutboxRelay(
        pool,
        nc.jetstream(),
        service="customers",
        schema=schema,
        namespace=namespace,
        after_publish=die,  # the relay's fault hook: called once JetStream acked the batch
    )
    await relay.publish_pending()
    raise SystemExit("the relay was meant to be dead by now")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
