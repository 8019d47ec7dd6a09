"""Finance facts that outside systems (ERP, billing) publish for the health dashboard.

No service of ours owns these: an ERP or billing system publishes them on
``sales.finance.<event>`` in the same CloudEvents envelope (see ``examples/``), and the
metrics service reads them to set the bare indicators in business context: collection
rate beside the natural-collection share, repurchase cycles, first-order margins.
"""

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from contracts.base import IntegrationEvent, example_config
from contracts.fields import Identifier, Money, SignedMoney, UtcDatetime

_AT = "2024-05-06T02:00:00Z"
_DUE = "2024-06-05T02:00:00Z"


class PaymentKind(StrEnum):
    """Where a payment's money really came from (回款来源)."""

    #: The customer paid for what it bought, on its own terms (自然回款).
    NATURAL = "natural"
    #: Collected against a rebate promise (返点).
    REBATE = "rebate"
    #: Collected by pushing stock onto a distributor ahead of demand (压货).
    STOCK_PUSH = "stock_push"


class InvoiceIssued(IntegrationEvent):
    """A receivable was invoiced to a customer; it is due for collection on ``due_at``."""

    service: ClassVar[str] = "finance"
    model_config = example_config(
        invoice_id="inv-2024-0311",
        customer_id="cus-0042",
        amount="480000.00",
        issued_at=_AT,
        due_at=_DUE,
    )

    invoice_id: Identifier = Field(description="Id of the invoice.", examples=["inv-2024-0311"])
    customer_id: Identifier = Field(description="The customer billed.", examples=["cus-0042"])
    amount: Money = Field(description="Amount receivable, a decimal string.", examples=["480000"])
    issued_at: UtcDatetime = Field(description="When it was issued (UTC).", examples=[_AT])
    due_at: UtcDatetime = Field(
        description="When it falls due; the collection rate of a period counts the "
        "invoices due in it.",
        examples=[_DUE],
    )


class PaymentReceived(IntegrationEvent):
    """Money came in from a customer, with where it really came from."""

    service: ClassVar[str] = "finance"
    model_config = example_config(
        payment_id="pay-88120",
        customer_id="cus-0042",
        invoice_id="inv-2024-0311",
        amount="300000.00",
        kind="natural",
        received_at=_AT,
    )

    payment_id: Identifier = Field(description="Id of the payment.", examples=["pay-88120"])
    customer_id: Identifier = Field(description="The paying customer.", examples=["cus-0042"])
    invoice_id: Identifier | None = Field(
        default=None, description="The invoice paid, if known.", examples=["inv-2024-0311"]
    )
    amount: Money = Field(description="Amount received, a decimal string.", examples=["300000"])
    kind: PaymentKind = Field(
        description="natural (the customer's own payment), rebate (against a rebate "
        "promise) or stock_push (from stock pushed onto the customer).",
        examples=["natural"],
    )
    received_at: UtcDatetime = Field(description="When it was received (UTC).", examples=[_AT])


class OrderPlaced(IntegrationEvent):
    """A customer placed an order; repurchase cycles and first-order margins come from these."""

    service: ClassVar[str] = "finance"
    model_config = example_config(
        order_id="so-2024-1187",
        customer_id="cus-0042",
        amount="520000.00",
        gross_margin="93600.00",
        placed_at=_AT,
    )

    order_id: Identifier = Field(description="Id of the order.", examples=["so-2024-1187"])
    customer_id: Identifier = Field(description="The ordering customer.", examples=["cus-0042"])
    amount: Money = Field(description="Order value, a decimal string.", examples=["520000.00"])
    gross_margin: SignedMoney = Field(
        description="Gross margin of the order (value minus cost), a decimal string; "
        "negative for an order sold below cost.",
        examples=["93600.00", "-1200.00"],
    )
    placed_at: UtcDatetime = Field(description="When it was placed (UTC).", examples=[_AT])
