"""Handlers of the progress report (rep -> supervisor) and of target decomposition."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from contracts.customer_reports import (
    KeyAction,
    Obstacle,
    SupportAnswer,
    TargetAllocated,
    TargetNodeKind,
)
from contracts.target_book import TargetBook
from salesops.access import may_view_figures
from salesops.auth import Actor
from salesops.db import DbConnection
from salesops.problems import NotFound
from salesops.recording import published_events
from services.customers import progress, queries, targets
from services.customers.handlers import CustomerService, new_id


def report_stream(report_id: str) -> str:
    return f"progress-report-{report_id}"


def target_stream(period: str) -> str:
    return f"targets-{period}"


class ReportService:
    """Progress reports and targets, on the same store and read model as the customers."""

    def __init__(self, customers: CustomerService) -> None:
        self.customers = customers

    async def file_report(
        self,
        actor: Actor,
        customer_id: str,
        *,
        key_action: KeyAction,
        obstacle: Obstacle,
        support_needed: str,
    ) -> asyncpg.Record:
        s = self.customers
        report_id = new_id("pr")
        async with s.pool.acquire() as conn, conn.transaction():
            customer = await s.load(conn, customer_id)
            s.authorise(actor, customer, owner_only=True)
            events = progress.file_progress_report(
                report_id=report_id,
                customer_id=customer_id,
                rep_id=actor.id,
                supervisor_id=s.manager_id_of(actor.id),
                key_action=key_action,
                obstacle=obstacle,
                support_needed=support_needed,
                max_chars=s.policy.thresholds.support_needed_max_chars,
                answer_window=s.policy.sla.progress_report_answer,
                now=s.clock.now(),
            )
            await s.recorder.record(
                conn,
                report_stream(report_id),
                events,
                expected_version=0,
                metadata=s.metadata(actor),
            )
            row = await queries.progress_report(conn, report_id)
        assert row is not None
        return row

    async def answer(
        self, actor: Actor, report_id: str, answer: SupportAnswer, note: str | None
    ) -> asyncpg.Record:
        s = self.customers
        async with s.pool.acquire() as conn, conn.transaction():
            stored = await s.store.read_stream(report_stream(report_id), conn=conn)
            report = progress.fold(published_events(stored))
            if report is None:
                raise NotFound(f"no progress report {report_id!r}")
            events = progress.answer_support(
                report, answer, note, actor_id=actor.id, now=s.clock.now()
            )
            await s.recorder.record(
                conn,
                report_stream(report_id),
                events,
                expected_version=report.version,
                metadata=s.metadata(actor),
            )
            row = await queries.progress_report(conn, report_id)
        assert row is not None
        return row

    async def of_customer(self, actor: Actor, customer_id: str) -> list[asyncpg.Record]:
        """A customer's progress reports with their answers, newest first."""
        await self.customers.get(actor, customer_id)  # 404 / 403 as for the customer
        return await self.customers.pool.fetch(
            "SELECT * FROM progress_reports WHERE customer_id = $1"
            " ORDER BY reported_at DESC, report_id",
            customer_id,
        )

    async def todo(self, actor: Actor) -> list[asyncpg.Record]:
        return await queries.open_progress_reports(self.customers.pool, actor.id)

    async def _book(self, conn: DbConnection, period: str) -> tuple[TargetBook, int]:
        stored = await self.customers.store.read_stream(target_stream(period), conn=conn)
        allocations = [e for e in published_events(stored) if isinstance(e, TargetAllocated)]
        return TargetBook.fold(period, allocations), len(stored)

    async def allocate(
        self,
        actor: Actor,
        period: str,
        *,
        parent_id: str,
        parent_amount: Decimal | None,
        shares: list[tuple[str, Decimal]],
        rationale: str,
    ) -> list[targets.CoverageLine]:
        s = self.customers
        command = targets.AllocateTarget(
            period=period,
            parent_id=parent_id,
            parent_amount=parent_amount,
            shares=shares,
            rationale=rationale,
        )
        async with s.pool.acquire() as conn, conn.transaction():
            book, version = await self._book(conn, period)
            events = targets.allocate_target(
                book,
                command,
                directory=s.directory,
                actor_id=actor.id,
                actor_roles=actor.roles,
                now=s.clock.now(),
            )
            # The period's stream version guards against two people splitting at once.
            await s.recorder.record(
                conn,
                target_stream(period),
                events,
                expected_version=version,
                metadata=s.metadata(actor),
            )
        return await self.coverage(period, actor)

    async def coverage(self, period: str, actor: Actor) -> list[targets.CoverageLine]:
        """The lines ``actor`` may see: a rep's coverage sums their customers' contributions,
        so it is shown like the metrics service's figures (salesops.access), never to
        another rep."""
        s = self.customers
        async with s.pool.acquire() as conn:
            book, _ = await self._book(conn, period)
            contributions = await queries.contributions_by_rep(conn)
        return [
            line
            for line in targets.coverage(book, s.directory, contributions)
            if may_view_figures(
                s.directory, actor, line.node_id, is_unit=line.node_kind is TargetNodeKind.ORG_UNIT
            )
        ]
