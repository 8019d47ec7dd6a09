"""Table 1 events of the one-form progress report and of target decomposition."""

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import IntegrationEvent, example_config
from contracts.fields import Identifier, Money, UtcDatetime

_WHEN = "2024-05-06T01:30:00Z"
_DUE = "2024-05-06T05:30:00Z"


class KeyAction(StrEnum):
    """Today's key action (今日关键动作)."""

    CONTRACT_SIGNED = "contract_signed"
    SAMPLE_SENT = "sample_sent"
    QUOTED = "quoted"
    VISIT_SCHEDULED = "visit_scheduled"


class Obstacle(StrEnum):
    """What stands in the way (阻碍因素)."""

    BUDGET_FROZEN = "budget_frozen"
    TECH_PARAMS_UNCONFIRMED = "tech_params_unconfirmed"
    COMPETITOR_PRICE_PRESSURE = "competitor_price_pressure"
    INTERNAL_PROCESS_BLOCKED = "internal_process_blocked"


class SupportAnswer(StrEnum):
    """The supervisor's answer to a progress report."""

    COORDINATED = "coordinated"
    NEED_MORE_INFO = "need_more_info"


class ProgressReported(IntegrationEvent):
    """A rep filed the one-form progress report; it lands on the supervisor's to-do list."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        report_id="pr-3a9f",
        customer_id="cus-0042",
        rep_id="rep-zhang-wei",
        supervisor_id="gl-li-na",
        key_action="quoted",
        obstacle="competitor_price_pressure",
        support_needed="请协调技术部周三前确认参数",
        reported_at=_WHEN,
        answer_due_at=_DUE,
    )

    report_id: Identifier = Field(description="Id of the report.", examples=["pr-3a9f"])
    customer_id: Identifier = Field(description="The customer it is about.", examples=["cus-0042"])
    rep_id: Identifier = Field(description="The reporting rep.", examples=["rep-zhang-wei"])
    supervisor_id: Identifier = Field(description="Who must answer.", examples=["gl-li-na"])
    key_action: KeyAction = Field(description="Today's key action.", examples=["quoted"])
    obstacle: Obstacle = Field(description="The obstacle.", examples=["budget_frozen"])
    support_needed: str = Field(
        min_length=1,
        description="Support needed, short free text.",
        examples=["请协调技术部确认参数"],
    )
    reported_at: UtcDatetime = Field(description="When it was filed.", examples=[_WHEN])
    answer_due_at: UtcDatetime = Field(description="Answer by this time.", examples=[_DUE])


class SupportAnswered(IntegrationEvent):
    """The supervisor answered a progress report."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        report_id="pr-3a9f",
        customer_id="cus-0042",
        answered_by="gl-li-na",
        answer="coordinated",
        note="已约技术部周三上午",
        answered_at=_WHEN,
        on_time=True,
    )

    report_id: Identifier = Field(description="Id of the report.", examples=["pr-3a9f"])
    customer_id: Identifier = Field(description="The customer it is about.", examples=["cus-0042"])
    answered_by: Identifier = Field(description="Who answered.", examples=["gl-li-na"])
    answer: SupportAnswer = Field(description="The answer.", examples=["coordinated"])
    note: str | None = Field(description="Optional words with the answer.", examples=["已协调"])
    answered_at: UtcDatetime = Field(description="When.", examples=[_WHEN])
    on_time: bool = Field(description="Answered by the due time.", examples=[True])


class SupportAnswerOverdue(IntegrationEvent):
    """The supervisor did not answer in time: escalated to the supervisor's manager."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        report_id="pr-3a9f",
        customer_id="cus-0042",
        supervisor_id="gl-li-na",
        due_at=_DUE,
        escalated_to_id="sm-qian-wenbo",
        detected_at=_DUE,
    )

    report_id: Identifier = Field(description="Id of the report.", examples=["pr-3a9f"])
    customer_id: Identifier = Field(description="The customer it is about.", examples=["cus-0042"])
    supervisor_id: Identifier = Field(description="Who did not answer.", examples=["gl-li-na"])
    due_at: UtcDatetime = Field(description="The missed due time.", examples=[_DUE])
    escalated_to_id: Identifier | None = Field(
        description="The supervisor's manager, or null at the top.", examples=["sm-qian-wenbo"]
    )
    detected_at: UtcDatetime = Field(description="When it was found overdue.", examples=[_DUE])


class TargetNodeKind(StrEnum):
    """What a share of a target is given to."""

    ORG_UNIT = "org_unit"
    REP = "rep"


class TargetShare(BaseModel):
    """One child's share of a parent's target."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    node_id: Identifier = Field(
        description="Org unit id or rep person id.", examples=["region-east"]
    )
    node_kind: TargetNodeKind = Field(description="Org unit or rep.", examples=["org_unit"])
    amount: Money = Field(description="The child's target.", examples=["6000000"])


class TargetAllocated(IntegrationEvent):
    """A unit's target for a period was split among its children, with who and why."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        parent_id="hq",
        period="2024-Q2",
        parent_amount="12000000",
        shares=[
            {"node_id": "region-east", "node_kind": "org_unit", "amount": "7000000"},
            {"node_id": "region-south", "node_kind": "org_unit", "amount": "5000000"},
        ],
        rationale="华东客户池更大，承担 58%",
        allocated_by="sd-zhao-guoqiang",
        allocated_at=_WHEN,
    )

    parent_id: Identifier = Field(
        description="The org unit whose target is split.", examples=["hq"]
    )
    period: str = Field(
        pattern=r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$",
        description="The period: a year (2024), quarter (2024-Q2) or month (2024-05).",
        examples=["2024-Q2"],
    )
    parent_amount: Money = Field(
        description="The parent's target; the shares sum to it.", examples=["12000000"]
    )
    shares: list[TargetShare] = Field(min_length=1, description="The children's shares.")
    rationale: str = Field(
        min_length=1, description="Why the target was split this way.", examples=["按客户池"]
    )
    allocated_by: Identifier = Field(description="Who split it.", examples=["sd-zhao-guoqiang"])
    allocated_at: UtcDatetime = Field(description="When.", examples=[_WHEN])
