"""Events of table 1, customer tiering & tracking (service ``customers``)."""

from enum import StrEnum
from typing import ClassVar

from pydantic import ConfigDict, Field

from contracts.base import IntegrationEvent
from contracts.fields import Identifier, Money, UtcDatetime


class DecisionState(StrEnum):
    """Where the customer's key person stands on the purchase (关键人决策状态)."""

    INTENT_CONFIRMED = "intent_confirmed"
    NEEDS_TECH_VALIDATION = "needs_tech_validation"
    BUDGET_PENDING = "budget_pending"
    CHOSE_COMPETITOR = "chose_competitor"


class CustomerTier(StrEnum):
    """Customer tier: A customers get the most follow-ups (客户分级)."""

    A = "A"
    B = "B"
    C = "C"


class CustomerRegistered(IntegrationEvent):
    """A customer entered table 1 with its tier, owner rep and estimated contribution."""

    service: ClassVar[str] = "customers"

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "cus-0042",
                    "external_key": "ERP-88123",
                    "name": "宁波精密模具有限公司",
                    "tier": "A",
                    "owner_id": "p-rep-li-na",
                    "org_unit_id": "ou-east-group-2",
                    "estimated_contribution": "1200000.00",
                    "registered_by": "p-rep-li-na",
                    "registered_at": "2024-05-06T01:30:00Z",
                }
            ]
        }
    )

    customer_id: Identifier = Field(description="Id of the new customer.", examples=["cus-0042"])
    external_key: str | None = Field(
        description="The customer's key in the system it came from (CRM/ERP); imports are "
        "idempotent on it. Null when registered by hand without one.",
        examples=["ERP-88123", None],
    )
    name: str = Field(
        min_length=1, description="Customer's name.", examples=["宁波精密模具有限公司"]
    )
    tier: CustomerTier = Field(description="Tier A, B or C.", examples=["A"])
    owner_id: Identifier = Field(
        description="Person id of the sales rep who owns the customer.", examples=["p-rep-li-na"]
    )
    org_unit_id: Identifier = Field(
        description="Org unit (group) the customer belongs to.", examples=["ou-east-group-2"]
    )
    estimated_contribution: Money = Field(
        description="Estimated contribution for the current period, in the org's currency; "
        "feeds the target penetration rate.",
        examples=["1200000.00"],
    )
    registered_by: Identifier = Field(
        description="Person id of who registered the customer.", examples=["p-rep-li-na"]
    )
    registered_at: UtcDatetime = Field(
        description="When the customer was registered (RFC 3339, UTC).",
        examples=["2024-05-06T01:30:00Z"],
    )


class DecisionStateChanged(IntegrationEvent):
    """The key person's decision state of a customer changed.

    Every change notifies the owner's sales manager; a change to ``intent_confirmed``
    also starts the 24 h window in which the manager must join the second quote
    negotiation.
    """

    service: ClassVar[str] = "customers"

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "cus-0042",
                    "customer_name": "Ningbo Precision Moulding Co.",
                    "owner_id": "p-rep-li-na",
                    "org_unit_id": "ou-east-group-2",
                    "from_state": "needs_tech_validation",
                    "to_state": "intent_confirmed",
                    "changed_by": "p-rep-li-na",
                    "changed_at": "2024-05-06T01:30:00Z",
                }
            ]
        }
    )

    customer_id: Identifier = Field(
        description="Id of the customer whose decision state changed.", examples=["cus-0042"]
    )
    customer_name: str = Field(
        min_length=1,
        description="Customer's name at the time of the change, for messages to people.",
        examples=["Ningbo Precision Moulding Co."],
    )
    owner_id: Identifier = Field(
        description="Person id of the sales rep who owns the customer.", examples=["p-rep-li-na"]
    )
    org_unit_id: Identifier = Field(
        description="Org unit (group) the customer belongs to; locates the sales manager.",
        examples=["ou-east-group-2"],
    )
    from_state: DecisionState | None = Field(
        description="State before the change; null when the customer gets its first state.",
        examples=["needs_tech_validation", None],
    )
    to_state: DecisionState = Field(
        description="State after the change.", examples=["intent_confirmed"]
    )
    changed_by: Identifier = Field(
        description="Person id of who made the change (the actor), or 'system'.",
        examples=["p-rep-li-na"],
    )
    changed_at: UtcDatetime = Field(
        description="When the change was made (RFC 3339, UTC).",
        examples=["2024-05-06T01:30:00Z"],
    )


class CustomerTierChanged(IntegrationEvent):
    """A customer moved to another tier (A/B/C)."""

    service: ClassVar[str] = "customers"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "cus-0042",
                    "from_tier": "B",
                    "to_tier": "A",
                    "changed_by": "gl-li-na",
                    "changed_at": "2024-05-06T01:30:00Z",
                }
            ]
        }
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    from_tier: CustomerTier = Field(description="Tier before the change.", examples=["B"])
    to_tier: CustomerTier = Field(description="Tier after the change.", examples=["A"])
    changed_by: Identifier = Field(
        description="Person id of who changed it.", examples=["gl-li-na"]
    )
    changed_at: UtcDatetime = Field(
        description="When (RFC 3339, UTC).", examples=["2024-05-06T01:30:00Z"]
    )


class CustomerReassigned(IntegrationEvent):
    """A customer was handed to another owner rep (and with them, maybe another org unit)."""

    service: ClassVar[str] = "customers"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "cus-0042",
                    "from_owner_id": "rep-zhang-wei",
                    "to_owner_id": "rep-wang-fang",
                    "org_unit_id": "group-east-1",
                    "reassigned_by": "gl-li-na",
                    "reassigned_at": "2024-05-06T01:30:00Z",
                }
            ]
        }
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    from_owner_id: Identifier = Field(
        description="The previous owner rep.", examples=["rep-zhang-wei"]
    )
    to_owner_id: Identifier = Field(description="The new owner rep.", examples=["rep-wang-fang"])
    org_unit_id: Identifier = Field(
        description="Org unit of the customer after the change.", examples=["group-east-1"]
    )
    reassigned_by: Identifier = Field(
        description="Person id of who reassigned.", examples=["gl-li-na"]
    )
    reassigned_at: UtcDatetime = Field(description="When (UTC).", examples=["2024-05-06T01:30:00Z"])


class CustomerDetailsUpdated(IntegrationEvent):
    """A customer's name or estimated contribution changed (e.g. by a re-import)."""

    service: ClassVar[str] = "customers"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "cus-0042",
                    "name": "宁波精密模具股份有限公司",
                    "estimated_contribution": "1500000.00",
                    "updated_by": "sm-qian-wenbo",
                    "updated_at": "2024-05-06T01:30:00Z",
                }
            ]
        }
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    name: str = Field(min_length=1, description="Name after the change.", examples=["宁波精密模具"])
    estimated_contribution: Money = Field(
        description="Estimated contribution after the change.", examples=["1500000.00"]
    )
    updated_by: Identifier = Field(
        description="Person id of who updated.", examples=["sm-qian-wenbo"]
    )
    updated_at: UtcDatetime = Field(description="When (UTC).", examples=["2024-05-06T01:30:00Z"])


class FollowUpKind(StrEnum):
    """How the rep was in touch with the customer."""

    VISIT = "visit"
    CALL = "call"
    MEETING = "meeting"
    MESSAGE = "message"
    EMAIL = "email"
    IMPORTED = "imported"
    OTHER = "other"


class FollowUpLogged(IntegrationEvent):
    """A contact with the customer was recorded; the newest one sets the last contact time."""

    service: ClassVar[str] = "customers"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "cus-0042",
                    "follow_up_id": "fu-7d1e",
                    "owner_id": "rep-zhang-wei",
                    "kind": "visit",
                    "contacted_at": "2024-05-06T01:30:00Z",
                    "notes": "张总认可方案，要求下周到厂看产线",
                    "competitor_notes": "竞品报价低 8%",
                    "decision_chain_change": "采购总监换成李总",
                    "last_contact_at": "2024-05-06T01:30:00Z",
                    "logged_by": "rep-zhang-wei",
                    "logged_at": "2024-05-06T02:00:00Z",
                }
            ]
        }
    )

    customer_id: Identifier = Field(description="Id of the customer.", examples=["cus-0042"])
    follow_up_id: Identifier = Field(description="Id of this follow-up.", examples=["fu-7d1e"])
    owner_id: Identifier = Field(
        description="Owner rep of the customer.", examples=["rep-zhang-wei"]
    )
    kind: FollowUpKind = Field(description="How the contact happened.", examples=["visit"])
    contacted_at: UtcDatetime = Field(
        description="When the contact happened (may be earlier than logged_at).",
        examples=["2024-05-06T01:30:00Z"],
    )
    notes: str = Field(description="What was discussed.", examples=["张总认可方案"])
    competitor_notes: str | None = Field(
        description="What was learnt about competitors, if anything.", examples=["竞品报价低 8%"]
    )
    decision_chain_change: str | None = Field(
        description="A change in who decides, if any.", examples=["采购总监换成李总"]
    )
    last_contact_at: UtcDatetime = Field(
        description="The customer's last contact time after this follow-up: the newest "
        "contacted_at of all its follow-ups, so an older follow-up logged late keeps it.",
        examples=["2024-05-06T01:30:00Z"],
    )
    logged_by: Identifier = Field(
        description="Person id of who logged it.", examples=["rep-zhang-wei"]
    )
    logged_at: UtcDatetime = Field(
        description="When it was logged (UTC).", examples=["2024-05-06T02:00:00Z"]
    )
