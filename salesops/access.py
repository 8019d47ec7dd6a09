"""Who may see and act on whose records: the reporting line of the org directory.

A person acts on their own records; everyone above them in the reporting line sees and
acts on them too (a group lead on the group's reps, a manager on the region's); people
with an organisation-wide role see everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from salesops.auth import Actor
from salesops.orgdir import OrgDirectory, Role, UnknownPerson

ORG_WIDE_ROLES = frozenset({Role.SALES_DIRECTOR, Role.ADMIN})


def oversees(
    directory: OrgDirectory,
    actor: Actor,
    person_id: str,
    *,
    org_wide: Iterable[Role] = ORG_WIDE_ROLES,
) -> bool:
    """Whether ``actor`` may see and act on what belongs to ``person_id``."""
    if actor.id == person_id or actor.has_any_role(org_wide):
        return True
    try:
        return any(boss.id == actor.id for boss in directory.reporting_line(person_id))
    except UnknownPerson:
        return False


def people_overseen(directory: OrgDirectory, actor: Actor) -> list[str] | None:
    """Ids of everyone whose records ``actor`` sees; None means everyone."""
    if actor.has_any_role(ORG_WIDE_ROLES):
        return None
    return [p.id for p in directory.people if oversees(directory, actor, p.id)]
