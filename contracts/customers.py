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
