"""Events of table 3, cross-department collaboration (service ``collaboration``)."""

from enum import StrEnum
from typing import ClassVar

from pydantic import ConfigDict, Field

from contracts.base import IntegrationEvent
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
