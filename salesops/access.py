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


#: Who sees the figures (targets, coverage, indicators) of every org unit and person: the
#: organisation-wide reviewers. Their own work touches every unit, and none of them owns
#: customers a rep could be compared against.
FIGURE_READERS = frozenset(
    {
        Role.SALES_DIRECTOR,
        Role.ADMIN,
        Role.FINANCE_RISK,
        Role.DEPARTMENT_HEAD,
        Role.TECH_DIRECTOR,
        Role.TECH_LEAD,
        Role.LOGISTICS_LEAD,
    }
)
#: Who sees the figures of their own org unit and of every unit below it.
UNIT_FIGURE_READERS = frozenset({Role.GROUP_LEAD, Role.SALES_MANAGER})


def may_view_figures(directory: OrgDirectory, actor: Actor, node_id: str, *, is_unit: bool) -> bool:
    """Whether ``actor`` may see the figures of an org unit (``is_unit``) or of a person.

    A person's figures are sums over their own customers and tasks, so they follow the
    reporting line like the records do: a rep sees their own and never a colleague's. A
    unit's figures add up everyone in it, so only its leads and managers (and the reviewers
    above) see them, not the reps inside.
    """
    if actor.has_any_role(FIGURE_READERS):
        return True
    if not is_unit:
        return oversees(directory, actor, node_id)
    if not actor.has_any_role(UNIT_FIGURE_READERS):
        return False
    try:
        home = directory.person(actor.id).org_unit
    except UnknownPerson:
        return False
    return home in {unit.id for unit in directory.org_unit_path(node_id)}
