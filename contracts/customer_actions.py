"""Table 1 events about what must happen next: negotiations, next actions, red and stale flags."""

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from contracts.base import IntegrationEvent, example_config
from contracts.fields import Identifier, UtcDatetime

_WHEN = "2024-05-06T01:30:00Z"
_DUE = "2024-05-07T01:30:00Z"


class NegotiationJoinRequested(IntegrationEvent):
    """The customer confirmed purchase intent: the owner's sales manager must join the
    second quote negotiation within the policy's window (24 h by default)."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        customer_id="cus-0042",
        request_id="nj-51c0",
        customer_name="宁波精密模具",
        owner_id="rep-zhang-wei",
        manager_id="sm-qian-wenbo",
        requested_at=_WHEN,
        due_at=_DUE,
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    request_id: Identifier = Field(description="Id of this request.", examples=["nj-51c0"])
    customer_name: str = Field(
        description="Customer's name, for messages.", examples=["宁波精密模具"]
    )
    owner_id: Identifier = Field(description="Owner rep.", examples=["rep-zhang-wei"])
    manager_id: Identifier = Field(
        description="The sales manager who must join (the only one who may confirm).",
        examples=["sm-qian-wenbo"],
    )
    requested_at: UtcDatetime = Field(description="When it was requested.", examples=[_WHEN])
    due_at: UtcDatetime = Field(description="Confirm by this time (inclusive).", examples=[_DUE])


class NegotiationJoinConfirmed(IntegrationEvent):
    """The named sales manager confirmed joining the second quote negotiation."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        customer_id="cus-0042",
        request_id="nj-51c0",
        manager_id="sm-qian-wenbo",
        confirmed_at=_WHEN,
        on_time=True,
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    request_id: Identifier = Field(description="Id of the request confirmed.", examples=["nj-51c0"])
    manager_id: Identifier = Field(description="Who confirmed.", examples=["sm-qian-wenbo"])
    confirmed_at: UtcDatetime = Field(description="When.", examples=[_WHEN])
    on_time: bool = Field(description="Whether it was confirmed by the due time.", examples=[True])


class NegotiationJoinOverdue(IntegrationEvent):
    """The manager did not confirm in time: escalated to the manager's own manager."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        customer_id="cus-0042",
        request_id="nj-51c0",
        manager_id="sm-qian-wenbo",
        due_at=_DUE,
        escalated_to_id="sd-zhao-guoqiang",
        detected_at=_DUE,
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    request_id: Identifier = Field(description="Id of the overdue request.", examples=["nj-51c0"])
    manager_id: Identifier = Field(
        description="The manager who did not confirm.", examples=["sm-qian-wenbo"]
    )
    due_at: UtcDatetime = Field(description="The missed due time.", examples=[_DUE])
    escalated_to_id: Identifier | None = Field(
        description="The manager's manager, or null at the top of the line.",
        examples=["sd-zhao-guoqiang"],
    )
    detected_at: UtcDatetime = Field(description="When it was found overdue.", examples=[_DUE])


class NextActionKind(StrEnum):
    """The next required action (下次必做动作) a rep commits to."""

    SEND_PARAMETER_COMPARISON = "send_parameter_comparison"
    SCHEDULE_FACTORY_VISIT = "schedule_factory_visit"
    SUBMIT_INSTALLMENT_PLAN = "submit_installment_plan"
    OTHER = "other"


class NextActionCommitted(IntegrationEvent):
    """The owner committed (or updated) the customer's next required action and its due time."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        customer_id="cus-0042",
        owner_id="rep-zhang-wei",
        action_kind="schedule_factory_visit",
        description="约张总周四到厂看产线",
        due_at=_DUE,
        committed_by="rep-zhang-wei",
        committed_at=_WHEN,
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    owner_id: Identifier = Field(description="Owner rep.", examples=["rep-zhang-wei"])
    action_kind: NextActionKind = Field(
        description="What kind of action.", examples=["schedule_factory_visit"]
    )
    description: str = Field(
        description="The action in the rep's words.", examples=["约张总周四到厂看产线"]
    )
    due_at: UtcDatetime = Field(description="When it is due.", examples=[_DUE])
    committed_by: Identifier = Field(description="Who committed it.", examples=["rep-zhang-wei"])
    committed_at: UtcDatetime = Field(description="When.", examples=[_WHEN])


class NextActionCompleted(IntegrationEvent):
    """The next required action was done, on time or late."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        customer_id="cus-0042",
        owner_id="rep-zhang-wei",
        action_kind="schedule_factory_visit",
        due_at=_DUE,
        completed_at=_WHEN,
        on_time=True,
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    owner_id: Identifier = Field(description="Owner rep.", examples=["rep-zhang-wei"])
    action_kind: NextActionKind = Field(description="What kind of action.", examples=["other"])
    due_at: UtcDatetime = Field(description="When it was due.", examples=[_DUE])
    completed_at: UtcDatetime = Field(description="When it was done.", examples=[_WHEN])
    on_time: bool = Field(description="Completed at or before the due time.", examples=[True])


class NextActionOverdue(IntegrationEvent):
    """The next required action's due time passed without completion."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        customer_id="cus-0042",
        owner_id="rep-zhang-wei",
        action_kind="other",
        due_at=_DUE,
        detected_at=_DUE,
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    owner_id: Identifier = Field(description="Owner rep.", examples=["rep-zhang-wei"])
    action_kind: NextActionKind = Field(description="What kind of action.", examples=["other"])
    due_at: UtcDatetime = Field(description="The missed due time.", examples=[_DUE])
    detected_at: UtcDatetime = Field(description="When it was found overdue.", examples=[_DUE])


class NextActionsNotUpdated(IntegrationEvent):
    """At the morning meeting, these customers of one rep had no next action updated since
    the previous meeting: they are flagged red and the rep's direct supervisor is copied."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        rep_id="rep-zhang-wei",
        supervisor_id="gl-li-na",
        customer_ids=["cus-0042", "cus-0077"],
        meeting_at="2024-05-07T01:00:00Z",
        previous_meeting_at="2024-05-06T01:00:00Z",
    )

    rep_id: Identifier = Field(
        description="The rep whose customers are flagged.", examples=["rep-zhang-wei"]
    )
    supervisor_id: Identifier | None = Field(
        description="The rep's direct supervisor, copied; null if the rep has none.",
        examples=["gl-li-na"],
    )
    customer_ids: list[Identifier] = Field(
        min_length=1, description="The customers flagged red.", examples=[["cus-0042"]]
    )
    meeting_at: UtcDatetime = Field(description="The meeting that found them.", examples=[_DUE])
    previous_meeting_at: UtcDatetime = Field(
        description="Updates since this meeting would have counted.", examples=[_WHEN]
    )


class CustomerWentStale(IntegrationEvent):
    """No contact with the customer for more than the stale period (7 days by default)."""

    service: ClassVar[str] = "customers"
    model_config = example_config(
        customer_id="cus-0042",
        owner_id="rep-zhang-wei",
        last_contact_at=_WHEN,
        detected_at="2024-05-13T01:30:01Z",
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    owner_id: Identifier = Field(
        description="Owner rep, who is warned.", examples=["rep-zhang-wei"]
    )
    last_contact_at: UtcDatetime = Field(
        description="The last contact (or registration, if never contacted).", examples=[_WHEN]
    )
    detected_at: UtcDatetime = Field(description="When it was found stale.", examples=[_DUE])
