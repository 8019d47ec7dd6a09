"""Which tickets a person works on: a rep's requests, a department's open stages.

Sales people see the tickets requested by themselves and by everyone they oversee; tech
and logistics people see the tickets with a stage open in a team they belong to (member,
lead, head or in its escalation chain) or owned by them after an escalation.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from salesops.access import people_overseen
from salesops.auth import Actor
from salesops.db import DbExecutor
from salesops.orgdir import OrgDirectory, Role

SALES_ROLES = frozenset({Role.SALES_REP, Role.GROUP_LEAD, Role.SALES_MANAGER, Role.SALES_DIRECTOR})


def teams_of(directory: OrgDirectory, person_id: str) -> list[str]:
    """The teams a person works in or answers for."""
    return [
        team.id
        for team in directory.teams
        if person_id in {*team.members, *team.escalation_chain, team.lead, team.head}
    ]


async def tickets_for(
    db: DbExecutor,
    directory: OrgDirectory,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int = 100,
) -> Sequence[asyncpg.Record]:
    """The actor's tickets, the most recent first."""
    # Sales people and org-wide roles (admins) follow requests; None means everyone's.
    overseen = people_overseen(directory, actor)
    requesters = overseen if overseen is None or actor.has_any_role(SALES_ROLES) else []
    everyone = requesters is None
    return await db.fetch(
        "SELECT t.* FROM tickets t WHERE ($2::text IS NULL OR t.status = $2) AND ("
        " $3 OR t.requester_id = ANY($4::text[]) OR EXISTS (SELECT 1 FROM ticket_stages s"
        " WHERE s.ticket_id = t.ticket_id AND s.finished_at IS NULL"
        " AND (s.owner_id = $1 OR s.team_id = ANY($5::text[]))))"
        " ORDER BY t.submitted_at DESC, t.ticket_id LIMIT $6",
        actor.id,
        status,
        everyone,
        list(requesters or []),
        teams_of(directory, actor.id),
        limit,
    )
