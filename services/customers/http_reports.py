"""HTTP adapter of the progress report and of target decomposition."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from contracts.customer_reports import KeyAction, Obstacle, SupportAnswer, TargetNodeKind
from contracts.fields import Money
from salesops.auth import Actor, current_actor
from salesops.problems import PayloadTooLarge, problem
from services.customers.http import Command
from services.customers.importer import MAX_IMPORT_BYTES, CustomerImporter
from services.customers.importing import RowProblem
from services.customers.reports import ReportService
from services.customers.targets import CoverageLine

router = APIRouter(tags=["progress reports and targets"])
ActorDep = Annotated[Actor, Depends(current_actor)]
Period = Annotated[str, Path(pattern=r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$", examples=["2026-Q4"])]


async def report_service(request: Request) -> ReportService:
    service: ReportService = request.app.state.service.reports
    return service


ReportsDep = Annotated[ReportService, Depends(report_service)]


class ProgressReportRequest(Command):
    """The one form: three fields, nothing else."""

    key_action: KeyAction = Field(examples=["quoted"])
    obstacle: Obstacle = Field(examples=["competitor_price_pressure"])
    support_needed: str = Field(
        description="Support needed, short (the policy's limit, 50 characters by default)",
        examples=["请协调技术部周三前确认参数"],
    )


class SupportAnswerRequest(Command):
    answer: SupportAnswer
    note: str | None = Field(default=None, max_length=500)


class ProgressReportView(BaseModel):
    report_id: str
    customer_id: str
    rep_id: str
    supervisor_id: str
    key_action: KeyAction
    obstacle: Obstacle
    support_needed: str
    reported_at: datetime
    answer_due_at: datetime
    answer: SupportAnswer | None
    note: str | None
    answered_by: str | None
    answered_at: datetime | None
    overdue: bool
    escalated_to_id: str | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> ProgressReportView:
        return cls.model_validate(dict(row))


class ShareRequest(Command):
    node_id: str = Field(min_length=1, max_length=128)
    amount: Money


class AllocateTargetRequest(Command):
    parent_id: str = Field(min_length=1, max_length=128, examples=["hq"])
    parent_amount: Money | None = Field(
        default=None, description="Required the first time HQ's target of a period is split"
    )
    shares: list[ShareRequest] = Field(min_length=1)
    rationale: str = Field(min_length=1, max_length=1000, examples=["华东客户池更大"])


class CoverageView(BaseModel):
    node_id: str
    node_kind: TargetNodeKind
    name: str
    parent_id: str | None
    target: Money | None
    covered: Money
    coverage_pct: Decimal | None

    @classmethod
    def of(cls, line: CoverageLine) -> CoverageView:
        return cls(
            node_id=line.node_id,
            node_kind=line.node_kind,
            name=line.name,
            parent_id=line.parent_id,
            target=line.target,
            covered=line.covered,
            coverage_pct=line.coverage_pct,
        )


@router.get(
    "/customers/{customer_id}/progress-reports",
    response_model=list[ProgressReportView],
    summary="A customer's progress reports and the supervisor's answers, newest first",
)
async def progress_reports_of(
    customer_id: str, actor: ActorDep, reports: ReportsDep
) -> list[ProgressReportView]:
    return [ProgressReportView.of(row) for row in await reports.of_customer(actor, customer_id)]


@router.post(
    "/customers/{customer_id}/progress-reports",
    status_code=201,
    response_model=ProgressReportView,
    summary="File the one-form progress report",
)
async def file_progress_report(
    customer_id: str, body: ProgressReportRequest, actor: ActorDep, reports: ReportsDep
) -> ProgressReportView:
    row = await reports.file_report(
        actor,
        customer_id,
        key_action=body.key_action,
        obstacle=body.obstacle,
        support_needed=body.support_needed,
    )
    return ProgressReportView.of(row)


@router.get(
    "/progress-reports/todo",
    response_model=list[ProgressReportView],
    summary="Your to-do list: progress reports waiting for your answer",
)
async def todo(actor: ActorDep, reports: ReportsDep) -> list[ProgressReportView]:
    return [ProgressReportView.of(row) for row in await reports.todo(actor)]


@router.post(
    "/progress-reports/{report_id}/answer",
    response_model=ProgressReportView,
    summary="Answer coordinated or need_more_info",
)
async def answer(
    report_id: str, body: SupportAnswerRequest, actor: ActorDep, reports: ReportsDep
) -> ProgressReportView:
    return ProgressReportView.of(await reports.answer(actor, report_id, body.answer, body.note))


@router.post(
    "/targets/{period}/allocations",
    response_model=list[CoverageView],
    summary="Split a unit's target among its children; returns the coverage",
)
async def allocate_target(
    period: Period, body: AllocateTargetRequest, actor: ActorDep, reports: ReportsDep
) -> list[CoverageView]:
    lines = await reports.allocate(
        actor,
        period,
        parent_id=body.parent_id,
        parent_amount=body.parent_amount,
        shares=[(share.node_id, share.amount) for share in body.shares],
        rationale=body.rationale,
    )
    return [CoverageView.of(line) for line in lines]


@router.get(
    "/targets/{period}",
    response_model=list[CoverageView],
    summary="Targets and coverage of the units and reps you may see",
)
async def coverage(period: Period, actor: ActorDep, reports: ReportsDep) -> list[CoverageView]:
    return [CoverageView.of(line) for line in await reports.coverage(period, actor)]


class ImportProblemView(BaseModel):
    row: int | None
    column: str | None
    reason: str


class ImportOutcomeView(BaseModel):
    dry_run: bool
    format: str | None
    rows: int
    created: int
    updated: int
    unchanged: int
    problems: list[ImportProblemView]
    warnings: list[str]


async def importer(request: Request) -> CustomerImporter:
    service: CustomerImporter = request.app.state.service.importer
    return service


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(limit)
    return bytes(body)


@router.post(
    "/customers/import",
    response_model=ImportOutcomeView,
    summary="Import customers from .xlsx, CSV or pasted tab-separated rows (the request body)",
    responses={422: {"description": "The batch has bad rows; nothing was imported"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                "text/csv": {},
                "text/tab-separated-values": {},
                "text/plain": {},
            },
        }
    },
)
async def import_customers(
    request: Request,
    actor: ActorDep,
    customer_importer: Annotated[CustomerImporter, Depends(importer)],
    dry_run: bool = False,
) -> Response:
    content = await _read_limited(request, MAX_IMPORT_BYTES)
    outcome = await customer_importer.run(
        actor, content, content_type=request.headers.get("content-type"), dry_run=dry_run
    )
    view = ImportOutcomeView(
        dry_run=outcome.dry_run,
        format=outcome.format,
        rows=outcome.rows,
        created=outcome.created,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        problems=[
            ImportProblemView(row=p.row, column=p.column, reason=p.reason) for p in outcome.problems
        ],
        warnings=outcome.warnings,
    )
    if outcome.problems and not dry_run:
        return problem(
            422,
            "import-rejected",
            "The import has bad rows; nothing was imported",
            f"{len(outcome.problems)} problem(s), first: " + _describe(outcome.problems[0]),
            instance=request.url.path,
            errors=[p.model_dump() for p in view.problems],
        )
    return JSONResponse(view.model_dump(mode="json"))


def _describe(p: RowProblem) -> str:
    where = "the file" if p.row is None else f"row {p.row}"
    column = f", column {p.column}" if p.column else ""
    return f"{where}{column}: {p.reason}"
