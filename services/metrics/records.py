"""The records behind a figure, each with a link to the service that owns it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.metrics import penetration, sums
from services.metrics.http_views import RecordView
from services.metrics.measures import RATIO_MEASURES, Dimension
from services.metrics.nodes import Node, people_of
from services.metrics.periods import Period
from services.metrics.queries import PENETRATION, MetricsQueries

#: record kind -> (owning service, where it shows the record).
_OWNERS: dict[str, tuple[str, str | None]] = {
    "follow_up": ("customers", "/customers/{customer_id}"),
    "next_action": ("customers", "/customers/{customer_id}"),
    "progress_report": ("customers", "/customers/{customer_id}"),
    "customer": ("customers", "/customers/{customer_id}"),
    "task": ("tasks", "/tasks/{record_id}"),
    "stage": ("collaboration", "/tickets/{ticket_id}"),
    "payment": ("finance", None),
    "invoice": ("finance", None),
    "order": ("finance", None),
}


def _linked(row: Mapping[str, Any], links: Mapping[str, str], **fields: Any) -> RecordView:
    service, template = _OWNERS[row["record_kind"]]
    ticket_id = str(row["record_id"]).split(" ")[0]
    path = None
    if template is not None:
        path = template.format(
            customer_id=row["customer_id"], record_id=row["record_id"], ticket_id=ticket_id
        )
    base = links.get(service)
    url = f"{base.rstrip('/')}{path}" if base and path else None
    return RecordView(
        record_kind=row["record_kind"],
        record_id=str(row["record_id"]),
        customer_id=row["customer_id"],
        rep_id=row["rep_id"],
        service=service,
        path=path,
        url=url,
        **fields,
    )


async def records_behind(
    q: MetricsQueries,
    links: Mapping[str, str],
    measure: str,
    target: Node,
    period: Period,
    dimension: Dimension | None,
    segment: str | None,
    limit: int,
    offset: int,
) -> list[RecordView]:
    rm = await q.live_schema()
    people = people_of(q.directory, target)
    scope = q.scope(period)
    if measure == PENETRATION:
        tier = segment if dimension == "tier" else None
        customers = await penetration.customers_at(q.pool, rm, scope.as_of, people, tier)
        return [
            _linked(
                {"record_kind": "customer", "record_id": c["customer_id"], **c},
                links,
                at=scope.as_of,
                numerator=c["contribution"],
                denominator=0,
                segment=c["tier"],
                detail={"name": str(c["name"]), "tier": str(c["tier"])},
            )
            for c in customers[offset : offset + limit]
        ]
    rows = await sums.records(
        q.pool,
        rm,
        RATIO_MEASURES[measure],
        scope.window,
        people,
        dimension=dimension,
        segment=segment,
        limit=limit,
        offset=offset,
    )
    return [
        _linked(
            row,
            links,
            at=row["at"],
            numerator=row["num"],
            denominator=row["den"],
            segment=row["segment"],
            detail={k: row[k] for k in ("kind", "stage", "department") if row.get(k) is not None},
        )
        for row in rows
    ]
