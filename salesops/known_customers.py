"""What a service knows of the customers service's customers: id, name and owner.

Tasks and collaboration need a customer's name and owner but must not ask the customers
service; they follow its events into a small table of their own, with this one consumer.
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
)


@dataclass(frozen=True)
class KnownCustomer:
    customer_id: str
    name: str
    owner_id: str


async def learn(conn: DbConnection, received: ReceivedEvent) -> None:
    """Apply one customers-service event to the table (idempotent, order-tolerant upserts)."""
    match received.event():
        case CustomerRegistered() as e:
            await conn.execute(
                "INSERT INTO known_customers VALUES ($1, $2, $3) ON CONFLICT (customer_id)"
                " DO UPDATE SET name = EXCLUDED.name, owner_id = EXCLUDED.owner_id",
                e.customer_id,
                e.name,
                e.owner_id,
            )
        case CustomerReassigned() as e:
            await conn.execute(
                "UPDATE known_customers SET owner_id = $2 WHERE customer_id = $1",
                e.customer_id,
                e.to_owner_id,
            )
        case CustomerDetailsUpdated() as e:
            await conn.execute(
                "UPDATE known_customers SET name = $2 WHERE customer_id = $1", e.customer_id, e.name
            )


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
    row = await db.fetchrow("SELECT * FROM known_customers WHERE customer_id = $1", customer_id)
    if row is None:
        raise DomainError(
            f"no customer {customer_id!r} (yet): register it first", field="customer_id"
        )
    return KnownCustomer(row["customer_id"], row["name"], row["owner_id"])
