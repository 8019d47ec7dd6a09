"""Whole-directory checks for the org directory.

A directory is edited by hand in version control, so a load reports every problem at
once, each naming the entry it is about (``people[3] 'rep-zhang': ...``), instead of
stopping at the first one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

if TYPE_CHECKING:
    from salesops.orgdir import DocumentType, OrgUnit, Person, Stage, Team

REQUIRED_STAGES = ("tech_answer", "stocking_start", "receipt_confirmation")


class OrgDirectoryError(ValueError):
    """The directory is inconsistent; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"org directory {self.source}" if self.source else "org directory"
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        return f"{where} has {len(self.problems)} problem(s):\n{lines}"


class UnknownEntry(KeyError):
    """An id that is not in the directory."""

    kind = "entry"

    def __init__(self, entry_id: str) -> None:
        super().__init__(entry_id)
        self.entry_id = entry_id

    def __str__(self) -> str:
        return f"{self.kind} {self.entry_id!r} is not in the org directory"


class UnknownPerson(UnknownEntry):
    """A person id that is not in the directory."""

    kind = "person"


class UnknownOrgUnit(UnknownEntry):
    """An org unit id that is not in the directory."""

    kind = "org unit"


class UnknownTeam(UnknownEntry):
    """A team id that is not in the directory."""

    kind = "team"


class UnknownStage(UnknownEntry):
    """A collaboration stage that is not in the directory."""

    kind = "stage"


class UnknownDocumentType(UnknownEntry):
    """A document type that is not in the directory."""

    kind = "document type"


class EscalationRoutingError(ValueError):
    """An escalation chain was asked for without the context its stage needs."""


def describe_errors(exc: ValidationError) -> list[str]:
    """Turn pydantic errors into ``path: reason`` lines a person editing YAML can act on."""
    return [_describe(error) for error in exc.errors()]


def _describe(error: ErrorDetails) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    kind, given = error["type"], error.get("input")
    if kind == "missing":
        reason = "is required"
    elif kind == "extra_forbidden":
        reason = "is not a known field"
    elif kind == "value_error":
        reason = str(error.get("ctx", {}).get("error", error["msg"]))
    elif kind == "enum":
        reason = f"{given!r} is not one of {error.get('ctx', {}).get('expected', '?')}"
    else:
        reason = f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {given!r}"
    return f"{where.lstrip('.')}: {reason}" if where else reason


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=_Identified)


@dataclass(frozen=True)
class Section(Generic[E]):
    """One list of the directory, each parsed entry kept with its position in the file."""

    name: str
    entries: list[tuple[int, E]]
    # Ids of entries that failed to parse still count as known, so one typo does not
    # cascade into "unknown manager" problems for everyone who reports to that person.
    unparsed_ids: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, name: str, entries: Iterable[E]) -> Section[E]:
        return cls(name, list(enumerate(entries)))

    def label(self, index: int, entry_id: object = None) -> str:
        named = f" {entry_id!r}" if isinstance(entry_id, str | int) else ""
        return f"{self.name}[{index}]{named}"

    def ids(self) -> set[str]:
        return {entry.id for _, entry in self.entries} | self.unparsed_ids

    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for index, entry in self.entries:
            labels.setdefault(entry.id, self.label(index, entry.id))
        return labels


def parse_section(
    name: str, raw: object, validate: Callable[[Any], E]
) -> tuple[Section[E], list[str]]:
    """Parse each entry on its own so that one bad entry does not hide the others."""
    if raw is None:
        return Section(name, []), []
    if not isinstance(raw, list):
        return Section(name, []), [f"{name}: must be a list of entries, got {raw!r}"]
    section: Section[E] = Section(name, [])
    problems: list[str] = []
    for index, item in enumerate(raw):
        raw_id = item.get("id") if isinstance(item, Mapping) else None
        try:
            section.entries.append((index, validate(item)))
        except ValidationError as exc:
            if isinstance(raw_id, str | int):
                section.unparsed_ids.add(str(raw_id))
            label = section.label(index, raw_id)
            problems.extend(f"{label}: {reason}" for reason in describe_errors(exc))
    return section, problems


@dataclass(frozen=True)
class DirectorySections:
    """The five lists of a directory, as checked together."""

    people: Section[Person]
    org_units: Section[OrgUnit]
    teams: Section[Team]
    stages: Section[Stage]
    document_types: Section[DocumentType]


def find_reference_problems(d: DirectorySections) -> list[str]:
    """Every cross-reference problem: unknown ids, duplicates, cycles, ownership gaps."""
    problems: list[str] = []
    for section in (d.people, d.org_units, d.teams, d.stages, d.document_types):
        problems += _duplicate_ids(section)
    return problems + _org_units(d) + _people(d) + _teams(d) + _document_types(d) + _stages(d)


def _duplicate_ids(section: Section[Any]) -> list[str]:
    first: dict[str, int] = {}
    problems = []
    for index, entry in section.entries:
        if entry.id in first:
            used = section.label(first[entry.id])
            problems.append(f"{section.label(index, entry.id)}: duplicate id, first used by {used}")
        first.setdefault(entry.id, index)
    return problems


def _cycles(parent_of: Mapping[str, str | None]) -> list[list[str]]:
    """Each cycle in a parent relation once, in the order its members are walked."""
    done: set[str] = set()
    cycles: list[list[str]] = []
    for start in parent_of:
        path: list[str] = []
        node: str | None = start
        while node is not None and node in parent_of and node not in done:
            if node in path:
                cycles.append(path[path.index(node) :])
                break
            path.append(node)
            node = parent_of[node]
        done.update(path)
    return cycles


def _cycle_problems(
    section: Section[Any], parent_of: Mapping[str, str | None], what: str
) -> list[str]:
    order = {entry.id: index for index, entry in section.entries}
    labels = section.labels()
    problems = []
    for cycle in _cycles(parent_of):
        start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
        members = cycle[start:] + cycle[:start]
        loop = " -> ".join(repr(member) for member in [*members, members[0]])
        problems.append(f"{labels[members[0]]}: {what} loops back on itself: {loop}")
    return problems


def _org_units(d: DirectorySections) -> list[str]:
    section, known = d.org_units, d.org_units.ids()
    units = {unit.id: unit for _, unit in section.entries}
    problems = []
    hq_count = sum(1 for unit in units.values() if unit.parent is None and unit.is_hq)
    if hq_count != 1 and not section.unparsed_ids:
        problems.append(f"org_units: there must be exactly one hq unit, found {hq_count}")
    for index, unit in section.entries:
        label = section.label(index, unit.id)
        if unit.is_hq and unit.parent is not None:
            problems.append(f"{label}: an hq unit has no parent, got {unit.parent!r}")
        elif not unit.is_hq and unit.parent is None:
            problems.append(f"{label}: a {unit.kind} unit needs a parent org unit")
        elif unit.parent is not None and unit.parent not in known:
            problems.append(f"{label}: parent {unit.parent!r} is not an org unit in the directory")
        elif unit.parent in units and units[unit.parent].depth >= unit.depth:
            parent = units[unit.parent]
            problems.append(
                f"{label}: a {unit.kind} cannot sit under {parent.kind} {parent.id!r} "
                "(hq > region > group)"
            )
    parent_of = {unit.id: unit.parent for unit in units.values()}
    return problems + _cycle_problems(section, parent_of, "org unit parent chain")


def _people(d: DirectorySections) -> list[str]:
    section, people, units = d.people, d.people.ids(), d.org_units.ids()
    problems = []
    for index, person in section.entries:
        label = section.label(index, person.id)
        if person.manager is not None and person.manager not in people:
            problems.append(f"{label}: manager {person.manager!r} is not a person in the directory")
        if person.org_unit not in units:
            problems.append(
                f"{label}: org_unit {person.org_unit!r} is not an org unit in the directory"
            )
    parent_of = {person.id: person.manager for _, person in section.entries}
    return problems + _cycle_problems(section, parent_of, "reporting line")


def _teams(d: DirectorySections) -> list[str]:
    people, documents = d.people.ids(), d.document_types.ids()
    problems = []
    for index, team in d.teams.entries:
        label = d.teams.label(index, team.id)
        named = [("member", m) for m in team.members]
        named += [("escalation_chain person", p) for p in team.escalation_chain]
        named += [(key, p) for key, p in (("lead", team.lead), ("head", team.head)) if p]
        problems += [
            f"{label}: {key} {pid!r} is not a person in the directory"
            for key, pid in named
            if pid not in people
        ]
        for key, ids in (("members", team.members), ("escalation_chain", team.escalation_chain)):
            repeated = sorted({pid for pid in ids if ids.count(pid) > 1})
            problems += [f"{label}: {key} lists {pid!r} more than once" for pid in repeated]
        if team.lead is not None and team.lead not in team.members:
            problems.append(f"{label}: lead {team.lead!r} is not one of the team's members")
        if team.document_types and not team.is_tech_group:
            problems.append(f"{label}: only tech teams own document_types, this is {team.kind}")
        problems += [
            f"{label}: document type {doc!r} is not in document_types"
            for doc in team.document_types
            if doc not in documents
        ]
    return problems


def _document_types(d: DirectorySections) -> list[str]:
    owners: dict[str, list[str]] = {}
    for _, team in d.teams.entries:
        for doc_id in team.document_types if team.is_tech_group else ():
            owners.setdefault(doc_id, []).append(team.id)
    problems = []
    for index, doc in d.document_types.entries:
        label = d.document_types.label(index, doc.id)
        found = owners.get(doc.id, [])
        if not found and not d.teams.unparsed_ids:
            problems.append(f"{label}: no tech group owns it")
        elif len(found) > 1:
            teams = ", ".join(repr(team) for team in found)
            problems.append(f"{label}: owned by {len(found)} tech groups: {teams}")
    return problems


def _stages(d: DirectorySections) -> list[str]:
    teams = {team.id: team for _, team in d.teams.entries}
    known_teams = d.teams.ids()
    tech_groups = [team for team in teams.values() if team.is_tech_group]
    problems = [
        f"stages: required stage {name!r} is missing"
        for name in REQUIRED_STAGES
        if name not in d.stages.ids()
    ]
    for index, stage in d.stages.entries:
        label = d.stages.label(index, stage.id)
        if stage.is_routed_by_document_type:
            unchained = [team.id for team in tech_groups if not team.escalation_chain]
            problems += [
                f"{label}: tech group {tid!r} has no escalation_chain" for tid in unchained
            ]
            if not tech_groups and not d.teams.unparsed_ids:
                problems.append(f"{label}: owner {stage.owner!r} needs at least one tech group")
        elif stage.owner_team is not None and stage.owner_team not in known_teams:
            problems.append(
                f"{label}: owner {stage.owner!r} is not a team in the directory "
                "(nor 'requester' or 'by_document_type')"
            )
        elif stage.owner_team in teams and not teams[stage.owner_team].escalation_chain:
            problems.append(f"{label}: owner team {stage.owner!r} has no escalation_chain")
    return problems
