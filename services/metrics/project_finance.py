"""What the finance facts of outside systems change in the metrics facts."""

from __future__ import annotations

from contracts.finance import InvoiceIssued, OrderPlaced, PaymentReceived
from services.metrics import facts as f
from services.metrics.facts import Change, EventMeta, Projections


def _invoice(e: InvoiceIssued, meta: EventMeta) -> list[Change]:
    values = {
        "customer_id": e.customer_id,
        "amount": e.amount,
        "issued_at": e.issued_at,
        "due_at": e.due_at,
    }
    return [Change(f.INVOICES, (e.invoice_id,), values)]


def _payment(e: PaymentReceived, meta: EventMeta) -> list[Change]:
    values = {
        "customer_id": e.customer_id,
        "invoice_id": e.invoice_id,
        "amount": e.amount,
        "kind": str(e.kind),
        "received_at": e.received_at,
    }
    return [Change(f.PAYMENTS, (e.payment_id,), values)]


def _order(e: OrderPlaced, meta: EventMeta) -> list[Change]:
    values = {
        "customer_id": e.customer_id,
        "amount": e.amount,
        "gross_margin": e.gross_margin,
        "placed_at": e.placed_at,
    }
    return [Change(f.ORDERS, (e.order_id,), values)]


PROJECTIONS: Projections = {
    InvoiceIssued: _invoice,
    PaymentReceived: _payment,
    OrderPlaced: _order,
}
