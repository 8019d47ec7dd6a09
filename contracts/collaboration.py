"""Events of table 3, cross-department collaboration (service ``collaboration``)."""

from enum import StrEnum
from typing import ClassVar

from pydantic import ConfigDict, Field

from contracts.base import IntegrationEvent, example_config
from contracts.fields import Identifier, UtcDatetime


class TicketStage(StrEnum):
    """A stage of a ticket that runs against an SLA clock."""

    #: Tech answers the request (2 h).
    TECH_ANSWER = "tech_answer"
    #: Logistics starts stocking after tech delivered the documents (4 h).
    STOCKING_START = "stocking_start"
    #: The sales rep confirms receipt after logistics shipped (1 h).
    RECEIPT_CONFIRMATION = "receipt_confirmation"


class TicketTimedOut(IntegrationEvent):
    """A ticket's stage ran past its limit and was escalated along the stage's chain.

    Raised once per escalation step: the first time with ``escalation_level`` 1 (e.g. to
    the tech lead), again with 2 if still overdue (e.g. to the tech director).
    """

    service: ClassVar[str] = "collaboration"

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticket_id": "tkt-311",
                    "ticket_kind": "sample_request",
                    "stage": "tech_answer",
                    "owner_id": "p-tech-wang-lei",
                    "due_at": "2024-05-06T04:00:00Z",
                    "overdue_by_seconds": 60,
                    "escalation_level": 1,
                    "escalated_to_id": "p-tech-lead-zhao",
                }
            ]
        }
    )

    ticket_id: Identifier = Field(description="Id of the overdue ticket.", examples=["tkt-311"])
    ticket_kind: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Kind of ticket, snake case; new kinds may appear without a new version.",
        examples=["sample_request"],
    )
    stage: TicketStage = Field(description="The stage that ran late.", examples=["tech_answer"])
    owner_id: Identifier = Field(
        description="Person id of who owned the stage when it ran late.",
        examples=["p-tech-wang-lei"],
    )
    due_at: UtcDatetime = Field(
        description="When the stage was due (UTC).", examples=["2024-05-06T04:00:00Z"]
    )
    overdue_by_seconds: int = Field(
        ge=0,
        description="How late the stage was when the timeout fired, in whole seconds.",
        examples=[60],
    )
    escalation_level: int = Field(
        ge=1,
        description="Step in the stage's escalation chain: 1 is the owner's first escalation.",
        examples=[1],
    )
    escalated_to_id: Identifier | None = Field(
        description="Person id the ticket was escalated to; null when the chain is exhausted.",
        examples=["p-tech-lead-zhao", None],
    )
    team_id: Identifier | None = Field(
        default=None,
        description="The team owning the stage (for tech answers: which tech group).",
        examples=["tech-electrical"],
    )
    next_due_at: UtcDatetime | None = Field(
        default=None,
        description="When the next escalation level falls due if the stage is still open.",
        examples=["2024-05-06T06:00:00Z"],
    )


_AT = "2024-05-06T02:00:00Z"
_DUE = "2024-05-06T04:00:00Z"


_TICKET = Field(description="Id of the ticket.", examples=["tkt-311"])
_TEAM = Field(
    description="The tech group this part of the ticket went to.", examples=["tech-electrical"]
)


class TicketSubmitted(IntegrationEvent):
    """Sales asked other departments for something, e.g. a sample with its documents."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311",
        ticket_kind="sample_request",
        customer_id="cus-0042",
        requester_id="rep-zhang-wei",
        product="HY-75 空压机",
        quantity=2,
        document_types=["ce_certification_report", "installation_drawing_3d"],
        note="客户周五要",
        submitted_at=_AT,
    )

    ticket_id: Identifier = _TICKET
    ticket_kind: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$", description="Kind of request.", examples=["sample_request"]
    )
    customer_id: Identifier = Field(description="The customer.", examples=["cus-0042"])
    requester_id: Identifier = Field(
        description="The sales rep asking.", examples=["rep-zhang-wei"]
    )
    product: str = Field(min_length=1, description="The product.", examples=["HY-75 空压机"])
    quantity: int = Field(ge=1, description="How many.", examples=[2])
    document_types: list[Identifier] = Field(
        min_length=1,
        description="The technical documents needed (org directory ids).",
        examples=[["ce_certification_report"]],
    )
    note: str | None = Field(description="Anything else tech should know.", examples=["周五要"])
    submitted_at: UtcDatetime = Field(description="When.", examples=[_AT])


class TicketDispatched(IntegrationEvent):
    """The part of a ticket a tech group owns went to that group (one event per group)."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311",
        team_id="tech-electrical",
        owner_id="te-luo-bin",
        document_types=["ce_certification_report"],
        due_at=_DUE,
        dispatched_at=_AT,
    )

    ticket_id: Identifier = _TICKET
    team_id: Identifier = _TEAM
    owner_id: Identifier = Field(
        description="First owner in the group's chain.", examples=["te-luo-bin"]
    )
    document_types: list[Identifier] = Field(min_length=1, description="What this group provides.")
    due_at: UtcDatetime = Field(description="Tech must answer by then.", examples=[_DUE])
    dispatched_at: UtcDatetime = Field(description="When.", examples=[_AT])


class TicketAnswered(IntegrationEvent):
    """A tech group answered: the documents it owns are provided."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311",
        team_id="tech-electrical",
        answered_by="te-luo-bin",
        answered_at=_AT,
        on_time=True,
    )

    ticket_id: Identifier = _TICKET
    team_id: Identifier = _TEAM
    answered_by: Identifier = Field(description="Who answered.", examples=["te-luo-bin"])
    answered_at: UtcDatetime = Field(description="When.", examples=[_AT])
    on_time: bool = Field(description="Answered by the due time.", examples=[True])


class InfoRequested(IntegrationEvent):
    """A tech group needs more from sales first; its clock pauses until sales supplies it."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311",
        team_id="tech-electrical",
        requested_by="te-luo-bin",
        missing_items=["电压规格"],
        requested_at=_AT,
        on_time=True,
        time_left_seconds=3600,
    )

    ticket_id: Identifier = _TICKET
    team_id: Identifier = _TEAM
    requested_by: Identifier = Field(description="Who asked.", examples=["te-luo-bin"])
    missing_items: list[str] = Field(
        min_length=1, description="What is missing.", examples=[["电压规格"]]
    )
    requested_at: UtcDatetime = Field(description="When.", examples=[_AT])
    on_time: bool = Field(description="Asked within the answer window.", examples=[True])
    time_left_seconds: int = Field(
        description="Answer time tech had left (counted in the stage's business hours, if "
        "any); the clock resumes with it when sales supplies the information.",
        examples=[3600],
    )


class InfoSupplied(IntegrationEvent):
    """Sales supplied what tech asked for; the tech clock runs again."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311",
        team_id="tech-electrical",
        supplied_by="rep-zhang-wei",
        info="380V 三相",
        supplied_at=_AT,
        due_at=_DUE,
    )

    ticket_id: Identifier = _TICKET
    team_id: Identifier = _TEAM
    supplied_by: Identifier = Field(description="Who supplied it.", examples=["rep-zhang-wei"])
    info: str = Field(min_length=1, description="The information.", examples=["380V 三相"])
    supplied_at: UtcDatetime = Field(description="When.", examples=[_AT])
    due_at: UtcDatetime = Field(description="Tech's new due time.", examples=[_DUE])


class DocumentsCompleted(IntegrationEvent):
    """Every tech group provided its documents: logistics may start stocking."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311",
        team_id="logistics",
        owner_id="lg-cao-yang",
        completed_at=_AT,
        stocking_due_at=_DUE,
    )

    ticket_id: Identifier = _TICKET
    team_id: Identifier = Field(description="The team that stocks.", examples=["logistics"])
    owner_id: Identifier = Field(description="First owner in its chain.", examples=["lg-cao-yang"])
    completed_at: UtcDatetime = Field(description="When.", examples=[_AT])
    stocking_due_at: UtcDatetime = Field(
        description="Stocking must start by then.", examples=[_DUE]
    )


class StockingStarted(IntegrationEvent):
    """Logistics started stocking (备货启动)."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311", started_by="lg-cao-yang", started_at=_AT, on_time=True
    )

    ticket_id: Identifier = _TICKET
    started_by: Identifier = Field(description="Who started.", examples=["lg-cao-yang"])
    started_at: UtcDatetime = Field(description="When.", examples=[_AT])
    on_time: bool = Field(description="Started by the due time.", examples=[True])


class TicketShipped(IntegrationEvent):
    """Logistics shipped; the requesting rep must confirm receipt in time."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311",
        shipped_by="lg-cao-yang",
        shipped_at=_AT,
        tracking="SF1234567890",
        receipt_due_at=_DUE,
    )

    ticket_id: Identifier = _TICKET
    shipped_by: Identifier = Field(description="Who shipped.", examples=["lg-cao-yang"])
    shipped_at: UtcDatetime = Field(description="When.", examples=[_AT])
    tracking: str | None = Field(description="Carrier tracking number.", examples=["SF1234567890"])
    receipt_due_at: UtcDatetime = Field(description="Confirm receipt by then.", examples=[_DUE])


class ReceiptConfirmed(IntegrationEvent):
    """The requesting rep confirmed the customer received the shipment."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311", confirmed_by="rep-zhang-wei", confirmed_at=_AT, on_time=True
    )

    ticket_id: Identifier = _TICKET
    confirmed_by: Identifier = Field(description="Who confirmed.", examples=["rep-zhang-wei"])
    confirmed_at: UtcDatetime = Field(description="When.", examples=[_AT])
    on_time: bool = Field(description="Confirmed by the due time.", examples=[True])


class TicketRated(IntegrationEvent):
    """Sales rated the finished ticket; it counts for every department that owned a stage."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311",
        rated_by="rep-zhang-wei",
        stars=4,
        comment="CE 报告很快",
        team_ids=["tech-electrical", "logistics"],
        rated_at=_AT,
    )

    ticket_id: Identifier = _TICKET
    rated_by: Identifier = Field(description="The requesting rep.", examples=["rep-zhang-wei"])
    stars: int = Field(ge=1, le=5, description="1-5 stars.", examples=[4])
    comment: str | None = Field(description="Optional words.", examples=["很快"])
    team_ids: list[Identifier] = Field(
        min_length=1, description="Departments rated.", examples=[["logistics"]]
    )
    rated_at: UtcDatetime = Field(description="When.", examples=[_AT])


class TicketEscalated(IntegrationEvent):
    """An overdue stage moved to the next owner of its escalation chain."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        ticket_id="tkt-311",
        stage="tech_answer",
        team_id="tech-electrical",
        from_owner_id="te-luo-bin",
        to_owner_id="tl-gao-jianjun",
        escalation_level=1,
        escalated_at=_DUE,
    )

    ticket_id: Identifier = _TICKET
    stage: TicketStage = Field(description="The stage.", examples=["tech_answer"])
    team_id: Identifier | None = Field(description="The owning team.", examples=["tech-electrical"])
    from_owner_id: Identifier = Field(description="Previous owner.", examples=["te-luo-bin"])
    to_owner_id: Identifier = Field(description="New owner.", examples=["tl-gao-jianjun"])
    escalation_level: int = Field(ge=1, description="Level reached.", examples=[1])
    escalated_at: UtcDatetime = Field(description="When.", examples=[_DUE])


class DepartmentQualityAlert(IntegrationEvent):
    """A department was rated below the bar too many times in a row: an improvement list
    goes to its head by e-mail."""

    service: ClassVar[str] = "collaboration"
    model_config = example_config(
        team_id="tech-electrical",
        head_id="td-zheng-lixin",
        ticket_ids=["tkt-1", "tkt-2", "tkt-3"],
        improvement_items=["tkt-1: tech_answer 3h10m late (te-luo-bin)"],
        raised_at=_AT,
    )

    team_id: Identifier = Field(description="The department.", examples=["tech-electrical"])
    head_id: Identifier = Field(description="Who receives the list.", examples=["td-zheng-lixin"])
    ticket_ids: list[Identifier] = Field(min_length=1, description="The low-rated tickets.")
    improvement_items: list[str] = Field(description="What to improve, worst first.")
    raised_at: UtcDatetime = Field(description="When.", examples=[_AT])
