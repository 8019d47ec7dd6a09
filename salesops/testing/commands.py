"""The commands tests send most, over HTTP as the person ``who`` would.

Each returns the response unread: the test asserts what it expects of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from salesops.testing.apps import RunningService


async def plan_task(
    service: RunningService,
    customer_id: str,
    *,
    who: str,
    at: datetime,
    kind: str = "visit",
    title: str = "跟进",
) -> httpx.Response:
    """``POST /tasks`` on the tasks service: a task of ``kind`` scheduled at ``at``."""
    return await service.client.post(
        "/tasks",
        json={
            "customer_id": customer_id,
            "kind": kind,
            "title": title,
            "scheduled_at": at.isoformat(),
        },
        headers=service.auth(who),
    )


async def submit_ticket(
    service: RunningService,
    customer_id: str,
    *,
    who: str,
    product: str = "HY-75 空压机",
    quantity: int = 1,
    document_types: Sequence[str] = ("ce_certification_report",),
    note: str | None = None,
) -> httpx.Response:
    """``POST /tickets`` on the collaboration service: samples asked for, with documents."""
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "product": product,
        "quantity": quantity,
        "document_types": list(document_types),
    }
    if note is not None:
        body["note"] = note
    return await service.client.post("/tickets", json=body, headers=service.auth(who))
