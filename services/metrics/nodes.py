"""Where a figure is measured: an org unit (HQ, region, group) or a rep, and who sees which.

A figure is asked for a *node*: an org unit id or a person id of the directory. A unit's
figure sums its people's records; drilling down lists its child units and the sales reps
placed in it. Anyone sees their own figures and those of everyone below them in the
reporting line; group leads and sales managers their unit and its subtree; people with an
organisation-wide view (directors, department heads, finance, admins, tech leads) every node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from salesops.access import FIGURE_READERS, UNIT_FIGURE_READERS, may_view_figures
from salesops.auth import Actor
from salesops.orgdir import OrgDirectory, Role, UnknownOrgUnit, UnknownPerson
from salesops.problems import DomainError, Forbidden

NodeKind = Literal["org_unit", "rep"]

# The rule lives in salesops.access: the customers service's coverage follows it too.
ORG_WIDE_READERS = FIGURE_READERS
UNIT_READERS = UNIT_FIGURE_READERS


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    name: str
    parent_id: str | None


def node(directory: OrgDirectory, node_id: str, *, field: str = "unit") -> Node:
    """The unit or person ``node_id``; a 422 naming ``field`` when it is neither."""
    try:
        unit = directory.org_unit(node_id)
        return Node(unit.id, "org_unit", unit.name, unit.parent)
    except UnknownOrgUnit:
        pass
    try:
        person = directory.person(node_id)
    except UnknownPerson:
        raise DomainError(
            f"{node_id!r} is neither an org unit nor a person of the directory", field=field
        ) from None
    return Node(person.id, "rep", person.name, person.org_unit)


def people_of(directory: OrgDirectory, target: Node) -> list[str]:
    """Whose records make up the node's figure."""
    if target.kind == "rep":
        return [target.id]
    return [person.id for person in directory.people_under(target.id)]


def children(directory: OrgDirectory, target: Node) -> list[Node]:
    """The drill-down: child units first, then the sales reps placed in the unit itself."""
    if target.kind == "rep":
        return []
    units = [
        Node(u.id, "org_unit", u.name, u.parent)
        for u in directory.org_units
        if u.parent == target.id
    ]
    reps = [
        Node(p.id, "rep", p.name, p.org_unit)
        for p in directory.people
        if p.org_unit == target.id and p.has_role(Role.SALES_REP)
    ]
    return units + reps


def subtree(directory: OrgDirectory, root: Node) -> list[Node]:
    """``root`` and every node below it, parents before children."""
    found = [root]
    for child in children(directory, root):
        found += subtree(directory, child)
    return found


def child_towards(directory: OrgDirectory, root: Node, person_id: str) -> str | None:
    """Which child of ``root`` a person's records roll up into (None: not below root).

    People placed in ``root`` itself who are not its drill-down reps (a group lead owning a
    customer, say) count under their own id.
    """
    try:
        person = directory.person(person_id)
    except UnknownPerson:
        return None
    path = [unit.id for unit in directory.org_unit_path(person.org_unit)]
    if root.id not in path:
        return None
    below = path[path.index(root.id) + 1 :]
    return below[0] if below else person.id


def default_node(directory: OrgDirectory, actor: Actor) -> Node:
    """What an actor sees first: HQ for an org-wide view, their unit for a lead or manager,
    else their own figures."""
    if actor.has_any_role(ORG_WIDE_READERS):
        top = next(u for u in directory.org_units if u.parent is None)
        return node(directory, top.id)
    if actor.has_any_role(UNIT_READERS):
        return node(directory, directory.person(actor.id).org_unit)
    return node(directory, actor.id)


def may_view(directory: OrgDirectory, actor: Actor, target: Node) -> bool:
    return may_view_figures(directory, actor, target.id, is_unit=target.kind == "org_unit")


def visible_node(directory: OrgDirectory, actor: Actor, node_id: str | None) -> Node:
    """The node asked for (or the actor's default), or 403 if it is not theirs to see."""
    target = default_node(directory, actor) if node_id is None else node(directory, node_id)
    if not may_view(directory, actor, target):
        raise Forbidden(f"the figures of {target.id} are not visible to you")
    return target
