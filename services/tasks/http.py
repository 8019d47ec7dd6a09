"""HTTP adapter of table 2: plan tasks, submit evidence, decide on concessions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from contracts.fields import Money, Percent
from contracts.tasks import TaskKind
from salesops.auth import Actor, current_actor
from salesops.inputs import Day, Instant
from salesops.problems import DomainError, PayloadTooLarge
from services.tasks.handlers import TaskService, Upload

router = APIRouter(prefix="/tasks", tags=["tasks"])
ActorDep = Annotated[Actor, Depends(current_actor)]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Room beside the file for the text fields (a note of 2,000 characters) and the multipart
#: framing: the whole body is cut off past file + this, while it streams in.
FORM_ALLOWANCE_BYTES = 64 * 1024
_MONEY: TypeAdapter[Decimal] = TypeAdapter(Money)


async def task_service(request: Request) -> TaskService:
    service: TaskService = request.app.state.service.tasks
    return service


ServiceDep = Annotated[TaskService, Depends(task_service)]


class PlanTaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=128)
    kind: TaskKind
    title: str = Field(max_length=200, examples=["拜访张总，看产线"])
    scheduled_at: Instant


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: str = Field(pattern="^(approve|reject)$", examples=["approve"])
    reason: str = Field(min_length=1, max_length=1000, examples=["战略客户，首单让利"])


class TaskView(BaseModel):
    task_id: str
    customer_id: str
    rep_id: str
    kind: TaskKind
    title: str
    scheduled_at: datetime
    status: str
    planned_at: datetime
    submitted_at: datetime | None
    evidence_compliant: bool | None
    target_price: Money | None
    deal_price: Money | None
    concession_pct: Percent | None
    decided_by: str | None
    decision_reason: str | None
    decided_at: datetime | None
    version: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> TaskView:
        data: dict[str, Any] = dict(row)
        for money in ("target_price", "deal_price", "concession_pct"):
            if data[money] is not None:
                data[money] = Decimal(data[money])
        return cls.model_validate(data)


def _decimal(value: str | None, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    # A price as the contracts carry it: plain digits, no sign, no exponent. An exponent
    # (1E+999999999) would overflow, or take minutes to compute with, in the concession.
    try:
        return _MONEY.validate_python(value.strip())
    except ValidationError:
        raise DomainError(
            f"{value!r} is not a decimal number in plain notation, e.g. 88000.00", field=field
        ) from None


@router.post("", status_code=201, response_model=TaskView, summary="Plan a task")
async def plan_task(body: PlanTaskRequest, actor: ActorDep, tasks: ServiceDep) -> TaskView:
    return TaskView.of(await tasks.plan(actor, **body.model_dump()))


@router.get("", response_model=list[TaskView], summary="A rep's tasks of one day")
async def tasks_of_day(
    actor: ActorDep, tasks: ServiceDep, rep_id: str | None = None, day: Day | None = None
) -> list[TaskView]:
    when = day or tasks.local_date(tasks.clock.now())
    return [TaskView.of(row) for row in await tasks.day(actor, rep_id or actor.id, when)]


@router.get(
    "/awaiting-decision",
    response_model=list[TaskView],
    summary="Quotes locked for the sales director's decision",
)
async def awaiting_decision(actor: ActorDep, tasks: ServiceDep) -> list[TaskView]:
    return [TaskView.of(row) for row in await tasks.awaiting_decision(actor)]


@router.get("/{task_id}", response_model=TaskView, summary="One task")
async def get_task(task_id: str, actor: ActorDep, tasks: ServiceDep) -> TaskView:
    return TaskView.of(await tasks.get(actor, task_id))


@router.post(
    "/{task_id}/submission",
    response_model=TaskView,
    summary="Submit a task with its evidence (multipart form)",
    max_body_size=MAX_UPLOAD_BYTES + FORM_ALLOWANCE_BYTES,
)
async def submit_task(
    task_id: str,
    actor: ActorDep,
    tasks: ServiceDep,
    file: Annotated[UploadFile | None, File(description="Visit photo or proposal PDF")] = None,
    target_price: Annotated[str | None, Form(description="Quotes: a decimal string")] = None,
    deal_price: Annotated[str | None, Form(description="Quotes: a decimal string")] = None,
    note: Annotated[str | None, Form(max_length=2000)] = None,
) -> TaskView:
    upload = None
    if file is not None:
        content = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(content) > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(MAX_UPLOAD_BYTES, field="file")
        upload = Upload(content, file.filename or "", file.content_type)
    row = await tasks.submit(
        actor,
        task_id,
        upload=upload,
        target_price=_decimal(target_price, "target_price"),
        deal_price=_decimal(deal_price, "deal_price"),
        note=note,
    )
    return TaskView.of(row)


@router.post(
    "/{task_id}/concession-decision",
    response_model=TaskView,
    summary="The sales director approves or rejects a locked quote",
)
async def decide(
    task_id: str, body: DecisionRequest, actor: ActorDep, tasks: ServiceDep
) -> TaskView:
    row = await tasks.decide(actor, task_id, approve=body.decision == "approve", reason=body.reason)
    return TaskView.of(row)


class EvidenceView(BaseModel):
    sha256: str
    kind: str
    media_type: str
    file_name: str | None
    capture_time: datetime | None = Field(description="A photo's EXIF capture time.")
    device_id: str | None
    stored_at: datetime | None
    copy_path: str = Field(description="The reviewer's copy (watermarked photo, the PDF).")


@router.get(
    "/{task_id}/evidence",
    response_model=list[EvidenceView],
    summary="The files proving the task, each with its reviewer's copy",
)
async def evidence_list(task_id: str, actor: ActorDep, tasks: ServiceDep) -> list[EvidenceView]:
    rows = await tasks.evidence_list(actor, task_id)
    return [
        EvidenceView(**dict(r), copy_path=f"/tasks/{task_id}/evidence/{r['sha256']}") for r in rows
    ]


@router.get(
    "/{task_id}/evidence/{sha256}",
    summary="The reviewer's copy (watermarked photo)",
    response_class=Response,
)
async def evidence(task_id: str, sha256: str, actor: ActorDep, tasks: ServiceDep) -> Response:
    content, media_type = await tasks.evidence_for_review(actor, task_id, sha256)
    return Response(content, media_type=media_type)
