"""HTTP adapter of the notifier: every delivery and attempt, dead letters and their replay."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from salesops.auth import Actor, current_actor
from salesops.orgdir import Role
from salesops.problems import Forbidden, NotFound

router = APIRouter(tags=["notifications"])
ActorDep = Annotated[Actor, Depends(current_actor)]
OPERATORS = (Role.ADMIN, Role.SALES_DIRECTOR)


def _notifier(request: Request) -> Any:
    return request.app.state.service


def _scope(actor: Actor, person_id: str | None) -> str | None:
    """Operators see every delivery; anyone else only their own."""
    if actor.has_any_role(OPERATORS):
        return person_id
    if person_id not in (None, actor.id):
        raise Forbidden("you may see only the notifications sent to you")
    return actor.id


@router.get("/deliveries", summary="Deliveries: event, recipient, channel, status, reply")
async def deliveries(
    request: Request,
    actor: ActorDep,
    event_id: str | None = None,
    person_id: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    rows = await _notifier(request).runtime.pool.fetch(
        "SELECT delivery_id, event_id, event_type, person_id, channel, urgent, status, attempts,"
        " next_attempt_at, created_at, sent_at, last_reply FROM deliveries"
        " WHERE ($1::text IS NULL OR event_id = $1) AND ($2::text IS NULL OR person_id = $2)"
        " AND ($3::text IS NULL OR status = $3) ORDER BY created_at DESC LIMIT $4",
        event_id,
        _scope(actor, person_id),
        status,
        limit,
    )
    return [dict(row) for row in rows]


@router.get("/deliveries/{delivery_id}/attempts", summary="Every attempt with the platform's reply")
async def attempts(request: Request, delivery_id: str, actor: ActorDep) -> list[dict[str, Any]]:
    pool = _notifier(request).runtime.pool
    owner = await pool.fetchval(
        "SELECT person_id FROM deliveries WHERE delivery_id = $1", delivery_id
    )
    if owner is None:
        raise NotFound(f"no delivery {delivery_id!r}")
    _scope(actor, owner)
    rows = await pool.fetch(
        "SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt", delivery_id
    )
    return [dict(row) for row in rows]


@router.get("/dead-letters", summary="Deliveries that failed after every retry")
async def dead_letters(request: Request, actor: ActorDep) -> list[dict[str, Any]]:
    if not actor.has_any_role(OPERATORS):
        raise Forbidden("the dead letters are for operators")
    rows = await _notifier(request).runtime.pool.fetch(
        "SELECT delivery_id, event_id, event_type, person_id, channel, attempts, last_reply"
        " FROM deliveries WHERE status = 'dead' ORDER BY created_at"
    )
    return [dict(row) for row in rows]


@router.post("/dead-letters/{delivery_id}/replay", summary="Send a dead-lettered delivery again")
async def replay(request: Request, delivery_id: str, actor: ActorDep) -> dict[str, str]:
    if not actor.has_any_role(OPERATORS):
        raise Forbidden("replaying dead letters is for operators")
    if not await _notifier(request).worker.replay(delivery_id):
        raise NotFound(f"no dead-lettered delivery {delivery_id!r}")
    return {"delivery_id": delivery_id, "status": "pending"}
