"""Command handlers of table 1: load, decide (pure domain), append, project, schedule.

Every command runs in one transaction: the events, the read model and the timers they
start commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg
from pydantic import BaseModel

from contracts.customer_actions import (
    NegotiationJoinConfirmed,
    NegotiationJoinRequested,
    NextActionCommitted,
    NextActionCompleted,
    NextActionKind,
)
from contracts.customer_reports import ProgressReported, SupportAnswered
from contracts.customers import (
    CustomerRegistered,
    CustomerTier,
    DecisionState,
    FollowUpKind,
    FollowUpLogged,
)
from salesops.access import oversees
from salesops.auth import Actor
from salesops.clock import Clock
from salesops.db import DbConnection, Statement
from salesops.eventstore import (
    ConcurrencyConflict,
    EventMetadata,
    EventStore,
    RecordedEvent,
)
from salesops.orgdir import OrgDirectory, Role, UnknownOrgUnit, UnknownPerson
from salesops.policy import Policy
from salesops.problems import DomainError, Forbidden, NotFound, StateConflict
from salesops.recording import EventRecorder, metadata_for
from salesops.timers import cancel_statement, just_after, schedule_statement
from services.customers import customer as rules
from services.customers import obligations, queries, read_model
from services.customers.customer_state import Customer

SALES_ROLES = frozenset(
    {Role.SALES_REP, Role.GROUP_LEAD, Role.SALES_MANAGER, Role.SALES_DIRECTOR, Role.ADMIN}
)
MANAGING_ROLES = frozenset({Role.GROUP_LEAD, Role.SALES_MANAGER, Role.SALES_DIRECTOR, Role.ADMIN})

# Timer kinds of this service, handled in services/customers/deadlines.py.
NEGOTIATION_JOIN_DUE = "customers.negotiation_join_due"
NEXT_ACTION_DUE = "customers.next_action_due"
STALE_CHECK = "customers.stale_check"
SUPPORT_ANSWER_DUE = "customers.support_answer_due"
MORNING_MEETING = "customers.morning_meeting"


def customer_stream(customer_id: str) -> str:
    return f"customer-{customer_id}"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class CustomerService:
    """Everything table 1 does, behind the HTTP adapter and the timers."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        store: EventStore,
        clock: Clock,
        directory: OrgDirectory,
        policy: Policy,
    ) -> None:
        self.pool = pool
        self.store = store
        self.clock = clock
        self.directory = directory
        self.policy = policy
        self.recorder = EventRecorder(store, self._follow_on)

    # -- plumbing ------------------------------------------------------------------------

    @staticmethod
    def metadata(actor: Actor, correlation_id: str | None = None) -> EventMetadata:
        return metadata_for(actor, correlation_id)

    def _follow_on(
        self, recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]
    ) -> list[Statement]:
        """The read-model updates and timers that events just appended bring with them."""
        return read_model.statements(recorded, events) + self._timers(events)

    def _timers(self, events: Sequence[BaseModel]) -> list[Statement]:
        thresholds = self.policy.thresholds
        found: list[Statement] = []
        for e in events:
            match e:
                case CustomerRegistered():
                    found.append(
                        schedule_statement(
                            f"stale:{e.customer_id}",
                            kind=STALE_CHECK,
                            due_at=obligations.stale_check_due(e.registered_at, thresholds),
                            payload={"customer_id": e.customer_id},
                        )
                    )
                case FollowUpLogged():
                    found.append(
                        schedule_statement(
                            f"stale:{e.customer_id}",
                            kind=STALE_CHECK,
                            due_at=obligations.stale_check_due(e.last_contact_at, thresholds),
                            payload={"customer_id": e.customer_id},
                        )
                    )
                case NegotiationJoinRequested():
                    found.append(
                        schedule_statement(
                            f"negotiation:{e.request_id}",
                            kind=NEGOTIATION_JOIN_DUE,
                            due_at=just_after(e.due_at),
                            payload={"customer_id": e.customer_id, "request_id": e.request_id},
                        )
                    )
                case NegotiationJoinConfirmed():
                    found.append(cancel_statement(f"negotiation:{e.request_id}"))
                case NextActionCommitted():
                    found.append(
                        schedule_statement(
                            f"next-action:{e.customer_id}",
                            kind=NEXT_ACTION_DUE,
                            due_at=just_after(e.due_at),
                            payload={"customer_id": e.customer_id, "due_at": e.due_at.isoformat()},
                        )
                    )
                case NextActionCompleted():
                    found.append(cancel_statement(f"next-action:{e.customer_id}"))
                case ProgressReported():
                    found.append(
                        schedule_statement(
                            f"support:{e.report_id}",
                            kind=SUPPORT_ANSWER_DUE,
                            due_at=just_after(e.answer_due_at),
                            payload={"report_id": e.report_id},
                        )
                    )
                case SupportAnswered():
                    found.append(cancel_statement(f"support:{e.report_id}"))
        return found

    async def load(self, conn: DbConnection, customer_id: str) -> Customer:
        """The customer's state as of its read-model row (see read_model.customer_state).

        Not locked: the append that follows expects this row's version, so a concurrent
        change makes it a conflict (409) rather than a lost update.
        """
        row = await queries.get_customer(conn, customer_id)
        if row is None:
            raise NotFound(f"no customer {customer_id!r}")
        return read_model.customer_state(row)

    def authorise(self, actor: Actor, customer: Customer, *, owner_only: bool = False) -> None:
        """A rep acts on their own customers; supervisors on their subtree's (unless owner_only)."""
        allowed = actor.id == customer.owner_id or (
            not owner_only and oversees(self.directory, actor, customer.owner_id)
        )
        if not allowed:
            who = "its owner" if owner_only else "its owner and their supervisors"
            raise Forbidden(f"customer {customer.customer_id} is for {who} only")

    async def change(
        self,
        actor: Actor,
        customer_id: str,
        decide: Callable[[Customer], list[BaseModel]],
        *,
        owner_only: bool = False,
        expected_version: int | None = None,
        correlation_id: str | None = None,
    ) -> asyncpg.Record:
        """Run one command on one customer and return its read-model row.

        No transaction around it: the recorder writes the events with their read-model
        rows and timers atomically (one statement, usually), and the version the decision
        was based on is checked by that write, so a concurrent change is a conflict.
        """
        async with self.pool.acquire() as conn:
            customer = await self.load(conn, customer_id)
            self.authorise(actor, customer, owner_only=owner_only)
            if expected_version is not None and expected_version != customer.version:
                raise ConcurrencyConflict(
                    customer_stream(customer_id), expected_version, customer.version
                )
            _, row = await self.recorder.record_returning(
                conn,
                customer_stream(customer_id),
                decide(customer),
                expected_version=customer.version,
                metadata=self.metadata(actor, correlation_id),
                returning="customers",
            )
            if row is None:  # nothing changed, or the row was not written with the events
                row = await queries.get_customer(conn, customer_id)
        assert row is not None
        return row

    # -- directory look-ups ----------------------------------------------------------------

    def sales_person(self, person_id: str, field: str) -> str:
        try:
            person = self.directory.person(person_id)
        except UnknownPerson:
            raise DomainError(
                f"{person_id!r} is not a person in the org directory", field=field
            ) from None
        if not any(person.has_role(role) for role in SALES_ROLES):
            raise DomainError(f"{person_id!r} is not sales staff", field=field)
        return person.org_unit

    def org_unit(self, unit_id: str, field: str) -> str:
        try:
            return self.directory.org_unit(unit_id).id
        except UnknownOrgUnit:
            raise DomainError(f"{unit_id!r} is not an org unit", field=field) from None

    def sales_manager_of(self, rep_id: str) -> str | None:
        manager = self.directory.first_with_role_above(rep_id, Role.SALES_MANAGER)
        if manager is None:  # a small org: the nearest sales director stands in
            manager = self.directory.first_with_role_above(rep_id, Role.SALES_DIRECTOR)
        return None if manager is None else manager.id

    def manager_id_of(self, person_id: str) -> str | None:
        manager = self.directory.manager_of(person_id)
        return None if manager is None else manager.id

    # -- commands --------------------------------------------------------------------------

    async def register(
        self,
        actor: Actor,
        *,
        name: str,
        tier: CustomerTier,
        estimated_contribution: Decimal,
        owner_id: str | None = None,
        org_unit_id: str | None = None,
        external_key: str | None = None,
        correlation_id: str | None = None,
    ) -> asyncpg.Record:
        if not actor.has_any_role(SALES_ROLES):
            raise Forbidden("only sales staff register customers")
        owner_id = owner_id or actor.id
        owner_unit = self.sales_person(owner_id, "owner_id")
        if not oversees(self.directory, actor, owner_id):
            raise Forbidden(f"you register customers for yourself or your team, not {owner_id!r}")
        unit = self.org_unit(org_unit_id, "org_unit_id") if org_unit_id else owner_unit
        customer_id = new_id("cus")
        events = rules.register_customer(
            customer_id=customer_id,
            name=name,
            tier=tier,
            owner_id=owner_id,
            org_unit_id=unit,
            estimated_contribution=estimated_contribution,
            external_key=external_key,
            actor_id=actor.id,
            now=self.clock.now(),
        )
        # No transaction: the unique external key refuses a concurrent duplicate.
        async with self.pool.acquire() as conn:
            if external_key is not None:
                existing = await queries.customer_id_by_external_key(conn, external_key)
                if existing is not None:
                    raise StateConflict(
                        f"{external_key!r} is already customer {existing}", field="external_key"
                    )
            _, row = await self.recorder.record_returning(
                conn,
                customer_stream(customer_id),
                events,
                expected_version=0,
                metadata=self.metadata(actor, correlation_id),
                returning="customers",
            )
            if row is None:
                row = await queries.get_customer(conn, customer_id)
        assert row is not None
        return row

    async def change_tier(
        self, actor: Actor, customer_id: str, tier: CustomerTier, expected_version: int | None
    ) -> asyncpg.Record:
        now = self.clock.now()
        return await self.change(
            actor,
            customer_id,
            lambda c: rules.change_tier(c, tier, actor_id=actor.id, now=now),
            expected_version=expected_version,
        )

    async def reassign(
        self, actor: Actor, customer_id: str, owner_id: str, org_unit_id: str | None
    ) -> asyncpg.Record:
        if not actor.has_any_role(MANAGING_ROLES):
            raise Forbidden("customers are reassigned by a group lead or above")
        owner_unit = self.sales_person(owner_id, "owner_id")
        if not oversees(self.directory, actor, owner_id):
            raise Forbidden(f"you may hand customers only to people you oversee, not {owner_id!r}")
        unit = self.org_unit(org_unit_id, "org_unit_id") if org_unit_id else owner_unit
        now = self.clock.now()
        return await self.change(
            actor,
            customer_id,
            lambda c: rules.reassign(c, owner_id, unit, actor_id=actor.id, now=now),
        )

    async def log_follow_up(
        self,
        actor: Actor,
        customer_id: str,
        *,
        kind: FollowUpKind,
        contacted_at: datetime,
        notes: str,
        competitor_notes: str | None,
        decision_chain_change: str | None,
    ) -> asyncpg.Record:
        now = self.clock.now()
        return await self.change(
            actor,
            customer_id,
            lambda c: rules.log_follow_up(
                c,
                follow_up_id=new_id("fu"),
                kind=kind,
                contacted_at=contacted_at,
                notes=notes,
                competitor_notes=competitor_notes,
                decision_chain_change=decision_chain_change,
                actor_id=actor.id,
                now=now,
            ),
        )

    async def change_decision_state(
        self,
        actor: Actor,
        customer_id: str,
        *,
        to_state: DecisionState,
        expected_version: int | None = None,
        correlation_id: str | None = None,
    ) -> asyncpg.Record:
        now = self.clock.now()
        return await self.change(
            actor,
            customer_id,
            lambda c: rules.change_decision_state(
                c,
                to_state,
                manager_id=self.sales_manager_of(c.owner_id),
                request_id=new_id("nj"),
                join_window=self.policy.sla.negotiation_join,
                actor_id=actor.id,
                now=now,
            ),
            expected_version=expected_version,
            correlation_id=correlation_id,
        )

    async def confirm_negotiation_join(self, actor: Actor, customer_id: str) -> asyncpg.Record:
        now = self.clock.now()
        async with self.pool.acquire() as conn:  # atomic as in change()
            customer = await self.load(conn, customer_id)
            # Only the named manager may confirm: the domain rule says so, whoever sees it.
            events = obligations.confirm_negotiation_join(customer, actor_id=actor.id, now=now)
            await self.recorder.record(
                conn,
                customer_stream(customer_id),
                events,
                expected_version=customer.version,
                metadata=self.metadata(actor),
            )
            row = await queries.get_customer(conn, customer_id)
        assert row is not None
        return row

    async def commit_next_action(
        self,
        actor: Actor,
        customer_id: str,
        *,
        kind: NextActionKind,
        description: str,
        due_at: datetime,
    ) -> asyncpg.Record:
        now = self.clock.now()
        return await self.change(
            actor,
            customer_id,
            lambda c: obligations.commit_next_action(
                c, kind, description, due_at, actor_id=actor.id, now=now
            ),
            owner_only=True,
        )

    async def complete_next_action(self, actor: Actor, customer_id: str) -> asyncpg.Record:
        now = self.clock.now()
        return await self.change(
            actor,
            customer_id,
            lambda c: obligations.complete_next_action(c, now=now),
            owner_only=True,
        )

    async def get(self, actor: Actor, customer_id: str) -> asyncpg.Record:
        row = await queries.get_customer(self.pool, customer_id)
        if row is None:
            raise NotFound(f"no customer {customer_id!r}")
        if not oversees(self.directory, actor, row["owner_id"]):
            raise Forbidden(f"customer {customer_id} is for its owner and their supervisors only")
        return row
