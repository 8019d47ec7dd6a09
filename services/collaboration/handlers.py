"""Command handlers of table 3: tickets through their stages, SLA timeouts, ratings."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import asyncpg
from pydantic import BaseModel, ValidationError

from contracts.collaboration import (
    DepartmentQualityAlert,
    DocumentsCompleted,
    InfoRequested,
    InfoSupplied,
    ReceiptConfirmed,
    StockingStarted,
    TicketAnswered,
    TicketDispatched,
    TicketRated,
    TicketShipped,
    TicketStage,
    TicketTimedOut,
)
from salesops.access import oversees
from salesops.auth import Actor
from salesops.clock import Clock
from salesops.db import DbConnection, Statement
from salesops.eventstore import EventStore, RecordedEvent
from salesops.known_customers import known_customer
from salesops.orgdir import OrgDirectory, UnknownEntry
from salesops.policy import Policy
from salesops.problems import DomainError, Forbidden, NotFound
from salesops.recording import EventRecorder, metadata_for, published_events
from salesops.settings import ConfigurationError
from salesops.telemetry import annotate_span, ticket_attributes
from salesops.timers import cancel_prefix_statement, just_after, schedule_statement
from services.collaboration import quality, read_model
from services.collaboration import ticket as rules
from services.collaboration.sla import BusinessCalendar
from services.collaboration.ticket import RECEIPT, STOCKING, TECH, SlaRule, Ticket, stage_key

STAGE_DUE = "collaboration.stage_due"


def ticket_stream(ticket_id: str) -> str:
    return f"ticket-{ticket_id}"


def _in_trace(ticket_id: str, stage: TicketStage | None = None, team_id: str | None = None) -> None:
    """Tag the command's span (the HTTP request) with the ticket, so its trace is found by id."""
    annotate_span(ticket_attributes(ticket_id, stage, team_id))


def sla_rules(policy: Policy) -> dict[TicketStage, SlaRule]:
    """Each stage's limit and optional business hours, failing fast on a bad calendar."""
    rules_by_stage: dict[TicketStage, SlaRule] = {}
    for stage in TicketStage:
        calendar = None
        raw = policy.stage_calendars.get(stage.value)
        if raw is not None:
            try:
                calendar = BusinessCalendar.model_validate({"timezone": policy.timezone.key, **raw})
            except ValidationError as exc:
                raise ConfigurationError(
                    f"policy stage_calendars.{stage.value}: {exc.errors()[0]['msg']}"
                ) from None
        rules_by_stage[stage] = SlaRule(policy.sla.for_stage(stage.value), calendar)
    unknown = set(policy.stage_calendars) - {stage.value for stage in TicketStage}
    if unknown:
        raise ConfigurationError(f"policy stage_calendars: unknown stage(s) {sorted(unknown)}")
    return rules_by_stage


class TicketService:
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
        self.rules = sla_rules(policy)
        self.recorder = EventRecorder(store, self._follow_on)
        self._chains: dict[tuple[str, str, str | None], list[str]] = {}
        logistics = directory.stage(STOCKING.value).owner_team
        assert logistics is not None, "the stocking stage is owned by a team"
        self.logistics_team = logistics

    # -- timers that events start and stop --------------------------------------------------

    def _follow_on(
        self, recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]
    ) -> list[Statement]:
        return read_model.statements(recorded, events) + [
            t for e in events for t in self._timers(e)
        ]

    def _window(self, ticket_id: str, key: str, due_at: datetime) -> Statement:
        return schedule_statement(
            f"sla:{ticket_id}:{key}:{due_at.isoformat()}",
            kind=STAGE_DUE,
            due_at=just_after(due_at),
            payload={"ticket_id": ticket_id, "key": key, "due_at": due_at.isoformat()},
        )

    def _timers(self, e: BaseModel) -> list[Statement]:
        match e:
            case TicketDispatched():
                return [self._window(e.ticket_id, stage_key(TECH, e.team_id), e.due_at)]
            case InfoSupplied():
                return [self._window(e.ticket_id, stage_key(TECH, e.team_id), e.due_at)]
            case TicketAnswered() | InfoRequested():
                return [cancel_prefix_statement(f"sla:{e.ticket_id}:{stage_key(TECH, e.team_id)}:")]
            case DocumentsCompleted():
                return [self._window(e.ticket_id, STOCKING.value, e.stocking_due_at)]
            case StockingStarted():
                return [cancel_prefix_statement(f"sla:{e.ticket_id}:{STOCKING.value}:")]
            case TicketShipped():
                return [self._window(e.ticket_id, RECEIPT.value, e.receipt_due_at)]
            case ReceiptConfirmed():
                return [cancel_prefix_statement(f"sla:{e.ticket_id}:{RECEIPT.value}:")]
            case TicketTimedOut() if e.next_due_at is not None:
                return [self._window(e.ticket_id, stage_key(e.stage, e.team_id), e.next_due_at)]
        return []

    # -- who owns what ------------------------------------------------------------------------

    def chain(self, ticket: Ticket, stage: TicketStage, team_id: str | None) -> list[str]:
        team = team_id if stage is TECH else None
        key = (stage.value, ticket.requester_id, team)
        # Remembered: the directory does not change while the service runs, and its
        # look-ups were a tenth of a burst of SLA timeouts (10,000 in a second).
        chain = self._chains.get(key)
        if chain is None:
            people = self.directory.escalation_chain(
                stage.value, requester_id=ticket.requester_id, team_id=team
            )
            chain = self._chains[key] = [person.id for person in people]
        return list(chain)

    def allowed(self, ticket: Ticket, stage: TicketStage, team_id: str | None) -> frozenset[str]:
        """The owning role plus everyone the stage has been escalated to so far."""
        key = stage_key(stage, team_id)
        level = ticket.stages[key].level if key in ticket.stages else 0
        owners = set(self.chain(ticket, stage, team_id)[: level + 1])
        if stage is TECH and team_id is not None:
            owners |= set(self.directory.team(team_id).members)
        elif stage is STOCKING:
            owners |= set(self.directory.team(self.logistics_team).members)
        else:
            owners.add(ticket.requester_id)
        return frozenset(owners)

    # -- commands ------------------------------------------------------------------------------

    async def load(self, conn: DbConnection, ticket_id: str) -> Ticket:
        stored = await self.store.read_stream(ticket_stream(ticket_id), conn=conn)
        ticket = rules.fold(published_events(stored))
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id!r}")
        return ticket

    async def load_many(self, conn: DbConnection, ticket_ids: Sequence[str]) -> dict[str, Ticket]:
        """Several tickets in one query; a NotFound names the first that does not exist."""
        streams = await self.store.read_streams([ticket_stream(t) for t in ticket_ids], conn=conn)
        tickets: dict[str, Ticket] = {}
        for ticket_id in ticket_ids:
            ticket = rules.fold(published_events(streams[ticket_stream(ticket_id)]))
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id!r}")
            tickets[ticket_id] = ticket
        return tickets

    async def submit(
        self,
        actor: Actor,
        *,
        kind: str,
        customer_id: str,
        product: str,
        quantity: int,
        document_types: list[str],
        note: str | None,
    ) -> asyncpg.Record:
        try:
            groups = self.directory.tech_groups_for(document_types)
        except UnknownEntry as exc:
            known = ", ".join(d.id for d in self.directory.document_types)
            raise DomainError(f"{exc}; known: {known}", field="document_types") from None
        ticket_id = f"tkt-{uuid.uuid4().hex[:10]}"
        # The tech stage(s) start here; their SLA timers carry this request's trace.
        _in_trace(ticket_id, TECH)
        async with self.pool.acquire() as conn, conn.transaction():
            customer = await known_customer(conn, customer_id)
            if not oversees(self.directory, actor, customer.owner_id):
                raise Forbidden("request samples for your own customers (or your team's)")
            routing = {team.id: (docs, team.escalation_chain[0]) for team, docs in groups.items()}
            events = rules.submit_ticket(
                ticket_id=ticket_id,
                kind=kind,
                customer_id=customer_id,
                requester_id=actor.id,
                product=product,
                quantity=quantity,
                note=note,
                routing=routing,
                tech=self.rules[TECH],
                now=self.clock.now(),
            )
            await self.recorder.record(
                conn,
                ticket_stream(ticket_id),
                events,
                expected_version=0,
                metadata=metadata_for(actor),
            )
            return await self.row(conn, ticket_id)

    async def act(
        self, actor: Actor, ticket_id: str, decide: Callable[[Ticket], list[BaseModel]]
    ) -> asyncpg.Record:
        async with self.pool.acquire() as conn, conn.transaction():
            ticket = await self.load(conn, ticket_id)
            events = decide(ticket)
            await self.recorder.record(
                conn,
                ticket_stream(ticket_id),
                events,
                expected_version=ticket.version,
                metadata=metadata_for(actor),
            )
            for event in events:
                if isinstance(event, TicketRated):
                    await self._rate_departments(conn, ticket, event, actor)
            return await self.row(conn, ticket_id)

    def _team_of(self, ticket: Ticket, team_id: str) -> str:
        if rules.stage_key(TECH, team_id) not in ticket.stages:
            raise NotFound(f"ticket {ticket.ticket_id} has no part for {team_id!r}")
        return team_id

    async def answer(
        self,
        actor: Actor,
        ticket_id: str,
        team_id: str,
        *,
        provided: bool,
        missing_items: list[str],
    ) -> asyncpg.Record:
        now = self.clock.now()
        _in_trace(ticket_id, TECH, team_id)

        def decide(t: Ticket) -> list[BaseModel]:
            team = self._team_of(t, team_id)
            allowed = self.allowed(t, TECH, team)
            if not provided:
                return rules.request_info(
                    t,
                    team,
                    missing_items,
                    actor_id=actor.id,
                    allowed=allowed,
                    tech=self.rules[TECH],
                    now=now,
                )
            first = self.directory.team(self.logistics_team).escalation_chain[0]
            return rules.answer_provided(
                t,
                team,
                actor_id=actor.id,
                allowed=allowed,
                logistics=(self.logistics_team, first),
                stocking=self.rules[STOCKING],
                now=now,
            )

        return await self.act(actor, ticket_id, decide)

    async def supply_info(
        self, actor: Actor, ticket_id: str, team_id: str, info: str
    ) -> asyncpg.Record:
        now = self.clock.now()
        _in_trace(ticket_id, TECH, team_id)
        return await self.act(
            actor,
            ticket_id,
            lambda t: rules.supply_info(
                t,
                self._team_of(t, team_id),
                info,
                actor_id=actor.id,
                tech=self.rules[TECH],
                now=now,
            ),
        )

    async def start_stocking(self, actor: Actor, ticket_id: str) -> asyncpg.Record:
        now = self.clock.now()
        _in_trace(ticket_id, STOCKING)
        return await self.act(
            actor,
            ticket_id,
            lambda t: rules.start_stocking(
                t,
                actor_id=actor.id,
                allowed=self.allowed(t, STOCKING, self.logistics_team),
                now=now,
            ),
        )

    async def ship(self, actor: Actor, ticket_id: str, tracking: str | None) -> asyncpg.Record:
        now = self.clock.now()
        _in_trace(ticket_id, RECEIPT)  # shipping starts the receipt stage's clock
        members = frozenset(self.directory.team(self.logistics_team).members)
        return await self.act(
            actor,
            ticket_id,
            lambda t: rules.ship(
                t,
                tracking,
                actor_id=actor.id,
                allowed=members | self.allowed(t, STOCKING, self.logistics_team),
                receipt=self.rules[RECEIPT],
                now=now,
            ),
        )

    async def confirm_receipt(self, actor: Actor, ticket_id: str) -> asyncpg.Record:
        now = self.clock.now()
        _in_trace(ticket_id, RECEIPT)
        return await self.act(
            actor,
            ticket_id,
            lambda t: rules.confirm_receipt(
                t, actor_id=actor.id, allowed=self.allowed(t, RECEIPT, None), now=now
            ),
        )

    async def rate(
        self, actor: Actor, ticket_id: str, stars: int, comment: str | None
    ) -> asyncpg.Record:
        quality.validate_rating(stars, comment)
        now = self.clock.now()
        _in_trace(ticket_id)

        def decide(t: Ticket) -> list[BaseModel]:
            teams = [s.team_id for s in t.tech_stages() if s.team_id] + [self.logistics_team]
            return rules.rate(t, stars, comment, teams, actor_id=actor.id, now=now)

        return await self.act(actor, ticket_id, decide)

    async def _rate_departments(
        self, conn: DbConnection, ticket: Ticket, rated: TicketRated, actor: Actor
    ) -> None:
        """Replay each rated department's run since its last alert; raise one if due."""
        for team_id in rated.team_ids:
            rows = await conn.fetch(
                "SELECT r.ticket_id, r.stars, r.comment, r.rated_at FROM department_ratings r"
                " WHERE r.team_id = $1 AND r.rated_at > coalesce((SELECT max(raised_at)"
                " FROM department_alerts a WHERE a.team_id = $1), '-infinity')"
                " ORDER BY r.rated_at, r.ticket_id",
                team_id,
            )
            run = quality.DepartmentRun(team_id)
            alert: quality.ImprovementList | None = None
            for row in rows:
                rated_ticket = quality.RatedTicket(
                    row["ticket_id"],
                    row["stars"],
                    row["comment"],
                    row["rated_at"],
                    await self._stage_records(conn, row["ticket_id"], team_id),
                )
                run, alert = quality.record_rating(run, rated_ticket, self.policy.quality_alert)
            if alert is None:
                continue
            head = self.directory.head_of(team_id)
            event = DepartmentQualityAlert(
                team_id=team_id,
                head_id=head.id,
                ticket_ids=[t.ticket_id for t in alert.tickets],
                improvement_items=list(alert.items),
                raised_at=rated.rated_at,
            )
            stream = f"department-{team_id}"
            version = await self.store.stream_version(stream, conn=conn)
            await self.recorder.record(
                conn, stream, [event], expected_version=version, metadata=metadata_for(actor)
            )

    async def _stage_records(
        self, conn: DbConnection, ticket_id: str, team_id: str
    ) -> tuple[quality.StageRecord, ...]:
        rows = await conn.fetch(
            "SELECT stage, owner_id, sla_due_at, finished_at FROM ticket_stages"
            " WHERE ticket_id = $1 AND team_id = $2 ORDER BY started_at",
            ticket_id,
            team_id,
        )
        records = []
        for row in rows:
            late = timedelta(0)
            if row["finished_at"] and row["sla_due_at"] and row["finished_at"] > row["sla_due_at"]:
                late = row["finished_at"] - row["sla_due_at"]
            records.append(
                quality.StageRecord(
                    row["stage"], row["owner_id"], row["sla_due_at"], row["finished_at"], late
                )
            )
        return tuple(records)

    async def row(self, conn: DbConnection, ticket_id: str) -> asyncpg.Record:
        row = await conn.fetchrow("SELECT * FROM tickets WHERE ticket_id = $1", ticket_id)
        if row is None:
            raise NotFound(f"no ticket {ticket_id!r}")
        return row
