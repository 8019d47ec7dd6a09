"""Events of table 2, the daily task list with evidence (service ``tasks``)."""

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import IntegrationEvent, example_config
from contracts.fields import SHA256_PATTERN, Identifier, Money, Percent, UtcDatetime


class TaskKind(StrEnum):
    """What a daily task asks of the rep; each kind has its own proof of delivery."""

    VISIT = "visit"
    PROPOSAL = "proposal"
    QUOTE = "quote"
    OTHER = "other"


class EvidenceKind(StrEnum):
    """The kind of a piece of evidence (交付物凭证)."""

    PHOTO = "photo"
    PDF = "pdf"
    QUOTE = "quote"


class Evidence(BaseModel):
    """One piece of evidence attached to a task; the file itself stays in the tasks service."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: EvidenceKind = Field(description="Kind of evidence.", examples=["photo"])
    sha256: str = Field(
        pattern=SHA256_PATTERN,
        description="SHA-256 of the file's bytes, lowercase hex; proves which file it was.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    file_name: str | None = Field(
        default=None,
        description="Original file name; for a proposal PDF it names the customer and date.",
        examples=["Ningbo Precision Moulding 2024-05-06.pdf"],
    )
    capture_time: UtcDatetime | None = Field(
        default=None,
        description="When a photo was taken, from its EXIF data (UTC).",
        examples=["2024-05-06T02:05:00Z"],
    )
    device_id: str | None = Field(
        default=None,
        description="Id of the device that took the photo, from its EXIF data.",
        examples=["HUAWEI P60 / 5f2c91"],
    )


class TaskSubmitted(IntegrationEvent):
    """A rep submitted a task with its evidence.

    ``evidence_compliant`` feeds the process trace rate. For a quote, ``locked`` is true
    when the concession is over 12 %; a ``ConcessionExceeded`` event follows.
    """

    service: ClassVar[str] = "tasks"

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "task_id": "task-7781",
                    "customer_id": "cus-0042",
                    "rep_id": "p-rep-li-na",
                    "kind": "quote",
                    "scheduled_at": "2024-05-06T02:00:00Z",
                    "submitted_at": "2024-05-06T03:10:00Z",
                    "evidence_compliant": True,
                    "evidence": [{"kind": "quote", "sha256": "ab" * 32}],
                    "target_price": "100000.00",
                    "deal_price": "86000.00",
                    "concession_pct": "14.00",
                    "locked": True,
                }
            ]
        }
    )

    task_id: Identifier = Field(description="Id of the submitted task.", examples=["task-7781"])
    customer_id: Identifier = Field(
        description="Id of the customer the task is for.", examples=["cus-0042"]
    )
    rep_id: Identifier = Field(
        description="Person id of the sales rep who submitted.", examples=["p-rep-li-na"]
    )
    kind: TaskKind = Field(description="Kind of task.", examples=["visit"])
    scheduled_at: UtcDatetime = Field(
        description="When the task was scheduled (UTC); photo times are checked against it.",
        examples=["2024-05-06T02:00:00Z"],
    )
    submitted_at: UtcDatetime = Field(
        description="When the rep submitted the task (UTC).", examples=["2024-05-06T03:10:00Z"]
    )
    evidence_compliant: bool = Field(
        description="True when the evidence satisfies the rule for the task's kind.",
        examples=[True],
    )
    evidence: tuple[Evidence, ...] = Field(
        default=(), description="The evidence attached, in upload order."
    )
    target_price: Money | None = Field(
        default=None,
        description="Quotes only: the target price, a decimal string.",
        examples=["100000.00"],
    )
    deal_price: Money | None = Field(
        default=None,
        description="Quotes only: the final deal price, a decimal string.",
        examples=["86000.00"],
    )
    concession_pct: Percent | None = Field(
        default=None,
        description="Quotes only: (target - deal) / target * 100, in percent.",
        examples=["14.00"],
    )
    locked: bool = Field(
        default=False,
        description="True when the task waits for the sales director's approval.",
        examples=[False],
    )


class ConcessionExceeded(IntegrationEvent):
    """A quote's concession is over the threshold (strictly): the director must decide.

    The task stays locked until the sales director approves or rejects it; finance/risk
    is informed.
    """

    service: ClassVar[str] = "tasks"

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "task_id": "task-7781",
                    "customer_id": "cus-0042",
                    "rep_id": "p-rep-li-na",
                    "target_price": "100000.00",
                    "deal_price": "86000.00",
                    "concession_pct": "14.00",
                    "threshold_pct": "12",
                    "approver_role": "sales_director",
                }
            ]
        }
    )

    task_id: Identifier = Field(description="Id of the locked quote task.", examples=["task-7781"])
    customer_id: Identifier = Field(description="Id of the customer quoted.", examples=["cus-0042"])
    rep_id: Identifier = Field(
        description="Person id of the sales rep who made the quote.", examples=["p-rep-li-na"]
    )
    target_price: Money = Field(
        description="The target price, a decimal string.", examples=["100000.00"]
    )
    deal_price: Money = Field(
        description="The final deal price, a decimal string.", examples=["86000.00"]
    )
    concession_pct: Percent = Field(
        description="(target - deal) / target * 100, in percent.", examples=["14.00"]
    )
    threshold_pct: Percent = Field(
        description="The threshold the concession went over, in percent.", examples=["12"]
    )
    approver_role: Literal["sales_director"] = Field(
        default="sales_director",
        description="Role that must approve or reject the quote.",
        examples=["sales_director"],
    )


_AT = "2024-05-06T02:00:00Z"


class TaskPlanned(IntegrationEvent):
    """A rep planned a task for a customer at a scheduled time."""

    service: ClassVar[str] = "tasks"
    model_config = example_config(
        task_id="task-7781",
        customer_id="cus-0042",
        rep_id="rep-zhang-wei",
        kind="visit",
        title="拜访张总，看产线",
        scheduled_at=_AT,
        planned_by="rep-zhang-wei",
        planned_at=_AT,
    )

    task_id: Identifier = Field(description="Id of the task.", examples=["task-7781"])
    customer_id: Identifier = Field(description="The customer it is for.", examples=["cus-0042"])
    rep_id: Identifier = Field(description="The rep who does it.", examples=["rep-zhang-wei"])
    kind: TaskKind = Field(description="Kind of task.", examples=["visit"])
    title: str = Field(min_length=1, description="What is to be done.", examples=["拜访张总"])
    scheduled_at: UtcDatetime = Field(description="When it is scheduled (UTC).", examples=[_AT])
    planned_by: Identifier = Field(description="Who planned it.", examples=["rep-zhang-wei"])
    planned_at: UtcDatetime = Field(description="When it was planned.", examples=[_AT])


class _ConcessionDecision(IntegrationEvent):
    """The sales director's decision on a locked quote (the two events below)."""

    service: ClassVar[str] = "tasks"

    task_id: Identifier = Field(description="Id of the quote task.", examples=["task-7781"])
    customer_id: Identifier = Field(description="The customer quoted.", examples=["cus-0042"])
    rep_id: Identifier = Field(description="The rep who quoted.", examples=["rep-zhang-wei"])
    concession_pct: Percent = Field(description="The concession decided on.", examples=["14.00"])
    decided_by: Identifier = Field(description="The sales director.", examples=["sd-zhao-guoqiang"])
    reason: str = Field(min_length=1, description="Why it was decided so.", examples=["战略客户"])
    decided_at: UtcDatetime = Field(description="When.", examples=[_AT])


class ConcessionApproved(_ConcessionDecision):
    """The sales director approved a quote whose concession was over the threshold."""

    model_config = example_config(
        task_id="task-7781",
        customer_id="cus-0042",
        rep_id="rep-zhang-wei",
        concession_pct="14.00",
        decided_by="sd-zhao-guoqiang",
        reason="战略客户，首单让利",
        decided_at=_AT,
    )


class ConcessionRejected(_ConcessionDecision):
    """The sales director rejected a quote whose concession was over the threshold."""

    model_config = example_config(
        task_id="task-7781",
        customer_id="cus-0042",
        rep_id="rep-zhang-wei",
        concession_pct="14.00",
        decided_by="sd-zhao-guoqiang",
        reason="低于成本线",
        decided_at=_AT,
    )


class OpenTask(BaseModel):
    """A task still waiting for its evidence, as listed on a card."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    task_id: Identifier = Field(description="Id of the task.", examples=["task-7781"])
    customer_id: Identifier = Field(description="The customer.", examples=["cus-0042"])
    kind: TaskKind = Field(description="Kind of task.", examples=["visit"])
    title: str = Field(description="What is to be done.", examples=["拜访张总"])
    scheduled_at: UtcDatetime = Field(description="When it was scheduled.", examples=[_AT])


class DailyTodoCardIssued(IntegrationEvent):
    """At the daily card time (18:00 local by default) a rep's open tasks, one card per rep."""

    service: ClassVar[str] = "tasks"
    model_config = example_config(
        rep_id="rep-zhang-wei",
        card_date="2024-05-06",
        issued_at="2024-05-06T10:00:00Z",
        submit_by="2024-05-06T13:00:00Z",
        open_tasks=[
            {
                "task_id": "task-7781",
                "customer_id": "cus-0042",
                "kind": "visit",
                "title": "拜访张总",
                "scheduled_at": _AT,
            }
        ],
    )

    rep_id: Identifier = Field(description="The rep the card is for.", examples=["rep-zhang-wei"])
    card_date: date = Field(description="The local date of the card.", examples=["2024-05-06"])
    issued_at: UtcDatetime = Field(description="When it was issued.", examples=[_AT])
    submit_by: UtcDatetime = Field(
        description="Deadline: still open then, the tasks go to the rep's supervisor.",
        examples=["2024-05-06T13:00:00Z"],
    )
    open_tasks: list[OpenTask] = Field(min_length=1, description="The open tasks.")


class TasksOverdue(IntegrationEvent):
    """At the submission deadline these tasks of one rep were still not submitted."""

    service: ClassVar[str] = "tasks"
    model_config = example_config(
        rep_id="rep-zhang-wei",
        supervisor_id="gl-li-na",
        card_date="2024-05-06",
        deadline_at="2024-05-06T13:00:00Z",
        overdue_tasks=[
            {
                "task_id": "task-7781",
                "customer_id": "cus-0042",
                "kind": "visit",
                "title": "拜访张总",
                "scheduled_at": _AT,
            }
        ],
    )

    rep_id: Identifier = Field(description="The rep.", examples=["rep-zhang-wei"])
    supervisor_id: Identifier | None = Field(
        description="The rep's direct supervisor, who is told.", examples=["gl-li-na"]
    )
    card_date: date = Field(description="The local date of the card.", examples=["2024-05-06"])
    deadline_at: UtcDatetime = Field(description="The missed deadline.", examples=[_AT])
    overdue_tasks: list[OpenTask] = Field(min_length=1, description="Tasks not submitted.")
