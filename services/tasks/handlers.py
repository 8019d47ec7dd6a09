"""Command handlers of table 2: plan, submit with evidence, decide on concessions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import asyncpg
from pydantic import BaseModel

from contracts.tasks import TaskKind, TaskSubmitted
from salesops.access import oversees
from salesops.auth import Actor
from salesops.clock import Clock
from salesops.db import DbConnection, Statement
from salesops.eventstore import EventMetadata, EventStore, RecordedEvent
from salesops.known_customers import known_customer
from salesops.objectstore import ObjectStore
from salesops.orgdir import OrgDirectory, Role
from salesops.policy import Policy
from salesops.problems import DomainError, Forbidden, NotFound
from salesops.recording import EventRecorder, metadata_for, published_events
from services.tasks import read_model
from services.tasks import task as rules
from services.tasks.evidence import check_declared_type, inspect_photo, inspect_proposal
from services.tasks.task import Task
from services.tasks.watermark import watermark_photo

DAILY_CARD = "tasks.daily_card"
SUBMISSION_DEADLINE = "tasks.submission_deadline"


def task_stream(task_id: str) -> str:
    return f"task-{task_id}"


@dataclass(frozen=True)
class Upload:
    """A file sent with a submission."""

    content: bytes
    file_name: str
    media_type: str | None


class TaskService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: EventStore,
        clock: Clock,
        directory: OrgDirectory,
        policy: Policy,
        objects: ObjectStore,
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.directory = directory
        self.policy = policy
        self.objects = objects
        self.store = store
        self.recorder = EventRecorder(store, self._follow_on)

    def _follow_on(
        self, recorded: Sequence[RecordedEvent], events: Sequence[BaseModel]
    ) -> list[Statement]:
        return read_model.statements(recorded, events)

    def metadata(self, actor: Actor) -> EventMetadata:
        return metadata_for(actor)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.policy.timezone).date()

    async def load(self, conn: DbConnection, task_id: str) -> Task:
        task = rules.fold(
            published_events(await self.store.read_stream(task_stream(task_id), conn=conn))
        )
        if task is None:
            raise NotFound(f"no task {task_id!r}")
        return task

    async def plan(
        self, actor: Actor, *, customer_id: str, kind: TaskKind, title: str, scheduled_at: datetime
    ) -> asyncpg.Record:
        task_id = f"task-{uuid.uuid4().hex[:12]}"
        async with self.pool.acquire() as conn, conn.transaction():
            customer = await known_customer(conn, customer_id)
            if customer.owner_id != actor.id:
                raise Forbidden("a rep plans tasks only for customers they own")
            events = rules.plan_task(
                task_id=task_id,
                customer_id=customer_id,
                rep_id=actor.id,
                kind=kind,
                title=title,
                scheduled_at=scheduled_at,
                actor_id=actor.id,
                now=self.clock.now(),
            )
            await self.recorder.record(
                conn,
                task_stream(task_id),
                events,
                expected_version=0,
                metadata=self.metadata(actor),
            )
            return await self._row(conn, task_id)

    async def submit(
        self,
        actor: Actor,
        task_id: str,
        *,
        upload: Upload | None,
        target_price: Decimal | None,
        deal_price: Decimal | None,
        note: str | None,
    ) -> asyncpg.Record:
        now = self.clock.now()
        async with self.pool.acquire() as conn:
            task = await self.load(conn, task_id)
            if task.rep_id != actor.id:
                raise Forbidden("a rep submits only their own tasks")
            customer = await known_customer(conn, task.customer_id)
        files: list[tuple[str, str, bytes, str | None]] = []  # (kind, media type, bytes, name)
        match task.kind:
            case TaskKind.VISIT:
                photo_upload = _required(upload, "a visit is proven by a photo")
                photo_bytes = photo_upload.content
                photo = await asyncio.to_thread(inspect_photo, photo_bytes, tz=self.policy.timezone)
                check_declared_type(
                    photo.media_type,
                    file_name=photo_upload.file_name,
                    declared=photo_upload.media_type,
                )
                events = rules.submit_visit(
                    task, photo, now=now, tolerance=self.policy.thresholds.photo_capture_tolerance
                )
                stamped = await asyncio.to_thread(
                    watermark_photo,
                    photo_bytes,
                    captured_at=photo.captured_at,
                    device_id=photo.device_id,
                    task_id=task_id,
                    tz=self.policy.timezone,
                )
                files.append(("photo", photo.media_type, photo_bytes, None))
                files.append(("reviewer", "image/jpeg", stamped, None))
            case TaskKind.PROPOSAL:
                pdf_upload = _required(upload, "a proposal is proven by its PDF")
                pdf = await asyncio.to_thread(
                    inspect_proposal,
                    pdf_upload.content,
                    pdf_upload.file_name,
                    customer_name=customer.name,
                    scheduled_date=self.local_date(task.scheduled_at),
                )
                check_declared_type(
                    "application/pdf", file_name=pdf.file_name, declared=pdf_upload.media_type
                )
                events = rules.submit_proposal(task, pdf, now=now)
                files.append(("pdf", "application/pdf", pdf_upload.content, pdf.file_name))
            case TaskKind.QUOTE:
                if target_price is None:
                    raise DomainError("is required for a quote", field="target_price")
                if deal_price is None:
                    raise DomainError("is required for a quote", field="deal_price")
                events = rules.submit_quote(
                    task, target_price, deal_price, now=now, thresholds=self.policy.thresholds
                )
            case _:
                events = rules.submit_other(task, note or "", evidence=[], now=now)
        # Files first: content-addressed, so a retry after a failed commit stores nothing twice.
        stored = [
            (kind, media, await self.objects.put(content, media_type=media), name)
            for kind, media, content, name in files
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            await self.recorder.record(
                conn,
                task_stream(task_id),
                events,
                expected_version=task.version,
                metadata=self.metadata(actor),
            )
            if stored:
                original = stored[0][2]
                reviewer = stored[-1][2]
                proof = next(
                    (ev for e in events if isinstance(e, TaskSubmitted) for ev in e.evidence),
                    None,
                )
                await conn.execute(
                    "INSERT INTO evidence_files (task_id, sha256, kind, media_type, file_name,"
                    " object_key, reviewer_key, capture_time, device_id, stored_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                    task_id,
                    original.sha256,
                    stored[0][0],
                    original.media_type,
                    stored[0][3],
                    original.key,
                    reviewer.key,
                    proof.capture_time if proof else None,
                    proof.device_id if proof else None,
                    now,
                )
            return await self._row(conn, task_id)

    async def decide(
        self, actor: Actor, task_id: str, *, approve: bool, reason: str
    ) -> asyncpg.Record:
        async with self.pool.acquire() as conn, conn.transaction():
            task = await self.load(conn, task_id)
            events = rules.decide_concession(
                task,
                approve=approve,
                reason=reason,
                actor_id=actor.id,
                actor_is_director=actor.has_any_role([Role.SALES_DIRECTOR]),
                now=self.clock.now(),
            )
            await self.recorder.record(
                conn,
                task_stream(task_id),
                events,
                expected_version=task.version,
                metadata=self.metadata(actor),
            )
            return await self._row(conn, task_id)

    async def _row(self, conn: DbConnection, task_id: str) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"SELECT {read_model.TASK_COLUMNS} FROM tasks WHERE task_id = $1", task_id
        )
        if row is None:
            raise NotFound(f"no task {task_id!r}")
        return row

    async def get(self, actor: Actor, task_id: str) -> asyncpg.Record:
        async with self.pool.acquire() as conn:
            row = await self._row(conn, task_id)
        self._may_read(actor, row["rep_id"])
        return row

    def _may_read(self, actor: Actor, rep_id: str) -> None:
        directors = actor.has_any_role([Role.SALES_DIRECTOR, Role.FINANCE_RISK])
        if not (directors or oversees(self.directory, actor, rep_id)):
            raise Forbidden("tasks are for their rep and the rep's supervisors")

    async def day(self, actor: Actor, rep_id: str, day: date) -> list[asyncpg.Record]:
        self._may_read(actor, rep_id)
        tz = self.policy.timezone
        start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
        end = datetime.combine(day, datetime.max.time(), tzinfo=tz)
        return await self.pool.fetch(
            f"SELECT {read_model.TASK_COLUMNS} FROM tasks WHERE rep_id = $1"
            " AND scheduled_at BETWEEN $2 AND $3 ORDER BY scheduled_at, task_id",
            rep_id,
            start,
            end,
        )

    async def awaiting_decision(self, actor: Actor) -> list[asyncpg.Record]:
        if not actor.has_any_role([Role.SALES_DIRECTOR, Role.FINANCE_RISK]):
            raise Forbidden("the concession queue is for sales directors (and finance/risk)")
        return await self.pool.fetch(
            f"SELECT {read_model.TASK_COLUMNS} FROM tasks WHERE status = 'locked'"
            " ORDER BY submitted_at, task_id"
        )

    async def evidence_list(self, actor: Actor, task_id: str) -> list[asyncpg.Record]:
        """The files proving a task, oldest first (the reviewer sees each one's copy)."""
        task = await self.get(actor, task_id)
        return await self.pool.fetch(
            "SELECT sha256, kind, media_type, file_name, capture_time, device_id, stored_at"
            " FROM evidence_files WHERE task_id = $1 ORDER BY stored_at NULLS FIRST, sha256",
            task["task_id"],
        )

    async def evidence_for_review(
        self, actor: Actor, task_id: str, sha256: str
    ) -> tuple[bytes, str]:
        """The reviewer's copy: the watermarked photo, or the PDF itself."""
        task = await self.get(actor, task_id)
        row = await self.pool.fetchrow(
            "SELECT * FROM evidence_files WHERE task_id = $1 AND sha256 = $2",
            task["task_id"],
            sha256,
        )
        if row is None:
            raise NotFound(f"task {task_id} has no evidence {sha256}")
        media = "image/jpeg" if row["kind"] == "photo" else row["media_type"]
        return await self.objects.get(row["reviewer_key"]), media


def _required(upload: Upload | None, reason: str) -> Upload:
    if upload is None:
        raise DomainError(reason, field="file")
    if not upload.content:
        raise DomainError(f"the file is empty; {reason}", field="file")
    return upload
