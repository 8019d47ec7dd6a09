"""Applying a bulk import: all rows or none, idempotent on the external customer key.

A row whose key is new registers a customer; a row whose key exists changes only what
differs (tier, owner, name or contribution, a newer last contact), so importing the same
file twice changes nothing the second time. Every row is checked before anything is
written; one bad row rejects the batch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from pydantic import BaseModel

from contracts.customers import FollowUpKind
from salesops.access import oversees
from salesops.auth import Actor
from salesops.eventstore import StreamAppend
from salesops.problems import Forbidden
from services.customers import customer as rules
from services.customers import customer_state as state
from services.customers import queries, read_model
from services.customers.handlers import (
    SALES_ROLES,
    CustomerService,
    customer_stream,
    new_id,
)
from services.customers.importing import ImportRow, RowProblem, parse_customer_import

MAX_IMPORT_BYTES = 10 * 1024 * 1024


@dataclass
class ImportOutcome:
    """What an import did, or in a dry run would do."""

    dry_run: bool
    format: str | None
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return not self.dry_run and not self.problems


class CustomerImporter:
    def __init__(self, service: CustomerService) -> None:
        self.service = service

    async def run(
        self, actor: Actor, content: bytes, *, content_type: str | None, dry_run: bool
    ) -> ImportOutcome:
        s = self.service
        if not actor.has_any_role(SALES_ROLES):
            raise Forbidden("only sales staff import customers")
        now = s.clock.now()
        # Parsing a large workbook is CPU-bound: keep the event loop answering meanwhile.
        parsed = await asyncio.to_thread(
            parse_customer_import,
            content,
            content_type=content_type,
            directory=s.directory,
            tz=s.policy.timezone,
            now=now,
            max_bytes=MAX_IMPORT_BYTES,
        )
        outcome = ImportOutcome(
            dry_run=dry_run,
            format=parsed.format,
            rows=len(parsed.rows),
            problems=list(parsed.problems),
            warnings=list(parsed.warnings),
        )
        outcome.problems += [
            RowProblem(
                row.row,
                "owner_id",
                f"you may import customers only for yourself or your team, not {row.owner_id!r}",
            )
            for row in parsed.rows
            if not oversees(s.directory, actor, row.owner_id)
        ]
        async with s.pool.acquire() as conn, conn.transaction():
            existing = await queries.customers_by_external_keys(
                conn, [row.external_key for row in parsed.rows]
            )
            plans = [
                (row, self._plan(row, existing.get(row.external_key), actor, now))
                for row in parsed.rows
            ]
            for row, (_, events) in plans:
                if row.external_key not in existing:
                    outcome.created += 1
                elif events:
                    outcome.updated += 1
                else:
                    outcome.unchanged += 1
            if outcome.problems or dry_run:
                outcome.problems.sort(key=lambda p: (p.row or 0, p.column or ""))
                return outcome  # the transaction wrote nothing
            batch = [
                StreamAppend(
                    stream,
                    events,
                    existing[row.external_key]["version"] if row.external_key in existing else 0,
                )
                for row, (stream, events) in plans
                if events
            ]
            await s.recorder.record_many(conn, batch, metadata=s.metadata(actor))
        return outcome

    def _plan(
        self, row: ImportRow, known: asyncpg.Record | None, actor: Actor, now: datetime
    ) -> tuple[str, list[BaseModel]]:
        if known is None:
            customer_id = new_id("cus")
            events = rules.register_customer(
                customer_id=customer_id,
                name=row.name,
                tier=row.tier,
                owner_id=row.owner_id,
                org_unit_id=row.org_unit_id,
                estimated_contribution=row.estimated_contribution,
                external_key=row.external_key,
                actor_id=actor.id,
                now=now,
            )
            customer = state.fold(events)
            assert customer is not None
        else:
            customer = read_model.customer_state(known)
            events = [
                *rules.change_tier(customer, row.tier, actor_id=actor.id, now=now),
                *rules.reassign(
                    customer, row.owner_id, row.org_unit_id, actor_id=actor.id, now=now
                ),
                *rules.update_details(
                    customer, row.name, row.estimated_contribution, actor_id=actor.id, now=now
                ),
            ]
        newer_contact = row.last_contact_at is not None and (
            customer.last_contact_at is None or row.last_contact_at > customer.last_contact_at
        )
        if newer_contact and row.last_contact_at is not None:
            events += rules.log_follow_up(
                customer,
                follow_up_id=new_id("fu"),
                kind=FollowUpKind.IMPORTED,
                contacted_at=row.last_contact_at,
                notes="",
                competitor_notes=None,
                decision_chain_change=None,
                actor_id=actor.id,
                now=now,
            )
        return customer_stream(customer.customer_id), events
