"""Command and query handlers: load, decide (pure domain), append, project — one transaction."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from pydantic import BaseModel

from contracts.customers import CustomerRegistered, DecisionStateChanged
from salesops.access import oversees, people_overseen
from salesops.auth import Actor
from salesops.clock import Clock
from salesops.db import DbConnection
from salesops.eventstore import ConcurrencyConflict, EventMetadata, EventStore
from salesops.orgdir import OrgDirectory, Role, UnknownPerson
from salesops.problems import DomainError, Forbidden, NotFound, StateConflict
from salesops.telemetry import current_traceparent
from services.customers import domain, read_model

_EVENT_CLASSES: dict[str, type[BaseModel]] = {
    cls.__name__: cls for cls in (CustomerRegistered, DecisionStateChanged)
}
SALES_ROLES = frozenset(
    {Role.SALES_REP, Role.GROUP_LEAD, Role.SALES_MANAGER, Role.SALES_DIRECTOR, Role.ADMIN}
)


def stream_id(customer_id: str) -> str:
    return f"customer-{customer_id}"


class CustomerService:
    """Everything table 1 does, behind the HTTP and NATS adapters."""

    def __init__(
        self, pool: asyncpg.Pool, store: EventStore, clock: Clock, directory: OrgDirectory
    ) -> None:
        self._pool = pool
        self._store = store
        self._clock = clock
        self._directory = directory

    def _metadata(self, actor: Actor, correlation_id: str | None) -> EventMetadata:
        return EventMetadata(
            actor=actor.id,
            correlation_id=correlation_id or str(uuid.uuid4()),
            traceparent=current_traceparent(),
        )

    async def register(
        self,
        actor: Actor,
        *,
        name: str,
        tier: Any,
        estimated_contribution: Any,
        owner_id: str | None = None,
        org_unit_id: str | None = None,
        external_key: str | None = None,
        correlation_id: str | None = None,
    ) -> asyncpg.Record:
        if not actor.has_any_role(SALES_ROLES):
            raise Forbidden("only sales staff register customers")
        owner_id = owner_id or actor.id
        try:
            owner = self._directory.person(owner_id)
        except UnknownPerson:
            raise DomainError(
                f"{owner_id!r} is not a person in the org directory", field="owner_id"
            ) from None
        if not any(owner.has_role(role) for role in SALES_ROLES):
            raise DomainError(f"{owner_id!r} is not sales staff", field="owner_id")
        if not oversees(self._directory, actor, owner_id):
            raise Forbidden(
                f"you may register customers only for yourself or your team, not {owner_id!r}"
            )
        unit = org_unit_id or owner.org_unit
        try:
            self._directory.org_unit(unit)
        except KeyError:
            raise DomainError(f"{unit!r} is not an org unit", field="org_unit_id") from None
        command = domain.RegisterCustomer(
            customer_id=f"cus-{uuid.uuid4().hex[:12]}",
            name=name,
            tier=tier,
            owner_id=owner_id,
            org_unit_id=unit,
            estimated_contribution=estimated_contribution,
            external_key=external_key,
        )
        events = domain.register_customer(command, actor_id=actor.id, now=self._clock.now())
        async with self._pool.acquire() as conn, conn.transaction():
            if external_key is not None:
                existing = await read_model.find_by_external_key(conn, external_key)
                if existing is not None:
                    raise StateConflict(
                        f"external key {external_key!r} is already customer {existing}"
                    )
            recorded = await self._store.append(
                stream_id(command.customer_id),
                events,
                expected_version=0,
                metadata=self._metadata(actor, correlation_id),
                conn=conn,
            )
            await read_model.apply(conn, recorded, events)
            row = await read_model.get(conn, command.customer_id)
        assert row is not None
        return row

    async def change_decision_state(
        self,
        actor: Actor,
        customer_id: str,
        *,
        to_state: Any,
        expected_version: int | None = None,
        correlation_id: str | None = None,
    ) -> asyncpg.Record:
        async with self._pool.acquire() as conn, conn.transaction():
            customer = await self._load(conn, customer_id)
            if not oversees(self._directory, actor, customer.owner_id):
                raise NotFound(f"no customer {customer_id!r}")
            if expected_version is not None and expected_version != customer.version:
                raise ConcurrencyConflict(
                    stream_id(customer_id), expected_version, customer.version
                )
            events = domain.change_decision_state(
                customer,
                domain.ChangeDecisionState(customer_id=customer_id, to_state=to_state),
                actor_id=actor.id,
                now=self._clock.now(),
            )
            if events:
                recorded = await self._store.append(
                    stream_id(customer_id),
                    events,
                    expected_version=customer.version,
                    metadata=self._metadata(actor, correlation_id),
                    conn=conn,
                )
                await read_model.apply(conn, recorded, events)
            row = await read_model.get(conn, customer_id)
        assert row is not None
        return row

    async def get(self, actor: Actor, customer_id: str) -> asyncpg.Record:
        row = await read_model.get(self._pool, customer_id)
        if row is None or not oversees(self._directory, actor, row["owner_id"]):
            # Someone else's customer looks the same as no customer: ids leak nothing.
            raise NotFound(f"no customer {customer_id!r}")
        return row

    async def list(
        self,
        actor: Actor,
        *,
        owner_id: str | None,
        decision_state: str | None,
        tier: str | None,
        limit: int,
        offset: int,
    ) -> list[asyncpg.Record]:
        visible = people_overseen(self._directory, actor)
        if owner_id is not None:
            if visible is not None and owner_id not in visible:
                raise Forbidden(f"you do not oversee {owner_id!r}")
            visible = [owner_id]
        return await read_model.list_customers(
            self._pool,
            owner_ids=visible,
            decision_state=decision_state,
            tier=tier,
            limit=limit,
            offset=offset,
        )

    async def _load(self, conn: DbConnection, customer_id: str) -> domain.Customer:
        stored = await self._store.read_stream(stream_id(customer_id), conn=conn)
        customer = domain.fold(_EVENT_CLASSES[e.event_type].model_validate(e.data) for e in stored)
        if customer is None:
            raise NotFound(f"no customer {customer_id!r}")
        return customer
