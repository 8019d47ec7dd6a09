"""What a service knows of the customers service's customers: id, name and owner.

Tasks and collaboration need a customer's name and owner but must not ask the customers
service; they follow its events into a small table of their own, with this one consumer.

Replicas of a service share the consumer, so two events of one customer can be applied at
once, in either order (a reassignment before the registration it follows). Each column
keeps the stream version of the event that set it, and only a later version overwrites
it; a row that only heard of a reassignment waits, unknown, for its registration.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.customers import CustomerDetailsUpdated, CustomerReassigned, CustomerRegistered
from salesops.consumers import EventConsumers, ReceivedEvent
from salesops.db import DbConnection, DbExecutor, Migration
from salesops.problems import DomainError

MIGRATIONS = (
    Migration(
        "0300_known_customers",
        """
        CREATE TABLE known_customers (
            customer_id text PRIMARY KEY,
            name text NOT NULL,
            owner_id text NOT NULL
        );
        """,
    ),
    Migration(
        "0301_known_customers_versions",
        """
        ALTER TABLE known_customers
            ALTER COLUMN name DROP NOT NULL,
            ALTER COLUMN owner_id DROP NOT NULL,
            ADD COLUMN name_version integer NOT NULL DEFAULT 0,
            ADD COLUMN owner_version integer NOT NULL DEFAULT 0;
        """,
    ),
)

# Each column takes the event's value only if the event is newer than what set it.
_NEWER = """
    name = CASE WHEN EXCLUDED.name_version > known_customers.name_version
                THEN EXCLUDED.name ELSE known_customers.name END,
    name_version = greatest(known_customers.name_version, EXCLUDED.name_version),
    owner_id = CASE WHEN EXCLUDED.owner_version > known_customers.owner_version
                    THEN EXCLUDED.owner_id ELSE known_customers.owner_id END,
    owner_version = greatest(known_customers.owner_version, EXCLUDED.owner_version)
"""
_LEARN = (
    "INSERT INTO known_customers (customer_id, name, name_version, owner_id, owner_version)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id) DO UPDATE SET" + _NEWER
)


@dataclass(frozen=True)
class KnownCustomer:
    customer_id: str
    name: str
    owner_id: str


async def learn(conn: DbConnection, received: ReceivedEvent) -> None:
    """Apply one customers-service event to the table (idempotent, in any order)."""
    version = received.envelope.streamversion
    match received.event():
        case CustomerRegistered() as e:
            await conn.execute(_LEARN, e.customer_id, e.name, version, e.owner_id, version)
        case CustomerReassigned() as e:
            # Version 0 for the name: whatever the registration says wins.
            await conn.execute(_LEARN, e.customer_id, None, 0, e.to_owner_id, version)
        case CustomerDetailsUpdated() as e:
            await conn.execute(_LEARN, e.customer_id, e.name, version, None, 0)


def follow_customers(consumers: EventConsumers) -> None:
    """Subscribe the service to the customer facts it keeps."""
    consumers.subscribe(
        "customer_facts",
        source_service="customers",
        handler=learn,
        event_types=["CustomerRegistered", "CustomerReassigned", "CustomerDetailsUpdated"],
    )


async def known_customer(db: DbExecutor, customer_id: str) -> KnownCustomer:
    """The customer, or a 422 naming ``customer_id`` if this service has not heard of it."""
    row = await db.fetchrow(
        "SELECT * FROM known_customers WHERE customer_id = $1 AND name IS NOT NULL"
        " AND owner_id IS NOT NULL",
        customer_id,
    )
    if row is None:
        raise DomainError(
            f"no customer {customer_id!r} (yet): register it first", field="customer_id"
        )
    return KnownCustomer(row["customer_id"], row["name"], row["owner_id"])
