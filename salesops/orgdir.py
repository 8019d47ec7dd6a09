"""Organisation directory: who reports to whom, who owns which stage, where tickets go.

Platform teams keep one directory file in version control (see ``deploy/org.yaml``);
every service loads the same file with :func:`load_org_directory` and asks it routing
questions: a rep's sales manager, a stage's escalation chain, the tech group that owns
a document type.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from salesops.orgdir_validation import (
    DirectorySections,
    EscalationRoutingError,
    OrgDirectoryError,
    Section,
    UnknownDocumentType,
    UnknownEntry,
    UnknownOrgUnit,
    UnknownPerson,
    UnknownStage,
    UnknownTeam,
    find_reference_problems,
    parse_section,
)

__all__ = [
    "BY_DOCUMENT_TYPE", "REQUESTER", "Channel", "DocumentType", "EscalationRoutingError",
    "OrgDirectory", "OrgDirectoryError", "OrgUnit", "OrgUnitKind", "Person", "Role", "Stage",
    "Team", "TeamKind", "UnknownDocumentType", "UnknownEntry", "UnknownOrgUnit",
    "UnknownPerson", "UnknownStage", "UnknownTeam", "load_org_directory",
]  # fmt: skip

REQUESTER = "requester"
BY_DOCUMENT_TYPE = "by_document_type"

EntryId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class Role(StrEnum):
    """What a person is allowed to do; closed, so a typo in the file fails the load."""

    SALES_REP = "sales_rep"
    GROUP_LEAD = "group_lead"
    SALES_MANAGER = "sales_manager"
    SALES_DIRECTOR = "sales_director"
    TECH_ENGINEER = "tech_engineer"
    TECH_LEAD = "tech_lead"
    TECH_DIRECTOR = "tech_director"
    LOGISTICS = "logistics"
    LOGISTICS_LEAD = "logistics_lead"
    FINANCE_RISK = "finance_risk"
    DEPARTMENT_HEAD = "department_head"
    ADMIN = "admin"


class OrgUnitKind(StrEnum):
    """Level of an org unit, from the top: hq > region > group."""

    HQ = "hq"
    REGION = "region"
    GROUP = "group"


class Channel(StrEnum):
    """Where a person is reached."""

    DINGTALK = "dingtalk"
    WECOM = "wecom"
    FEISHU = "feishu"
    EMAIL = "email"
    WEBHOOK = "webhook"


class TeamKind(StrEnum):
    """Department a team belongs to; only ``tech`` teams own document types."""

    SALES = "sales"
    TECH = "tech"
    LOGISTICS = "logistics"
    FINANCE = "finance"
    SERVICE = "service"


class _Entry(BaseModel):
    # Mobiles and numeric ids come out of YAML as ints unless quoted.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def _at_least_one_role(roles: tuple[Role, ...]) -> tuple[Role, ...]:
    # An AfterValidator rather than min_length: pydantic reports min_length on top of an
    # unknown role, which reads as two problems for one typo.
    if not roles:
        raise ValueError("needs at least one role")
    return roles


class Person(_Entry):
    """A person with roles, a place in the reporting line and chat addresses."""

    id: EntryId
    name: str = Field(min_length=1)
    roles: Annotated[tuple[Role, ...], AfterValidator(_at_least_one_role)]
    manager: EntryId | None = None
    org_unit: EntryId
    dingtalk_user_id: str | None = None
    mobile: str | None = Field(default=None, pattern=r"^\+?[0-9]{6,15}$")
    wecom_user_id: str | None = None
    feishu_open_id: str | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    webhook_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    preferred_channel: Channel | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if not self.channels():
            raise ValueError("needs at least one address (e-mail, DingTalk, WeCom, Feishu...)")
        if self.preferred_channel and not self.address_for(self.preferred_channel):
            raise ValueError(f"preferred_channel {self.preferred_channel} has no address")
        return self

    def has_role(self, role: Role | str) -> bool:
        """Whether the person holds ``role``."""
        return Role(role) in self.roles

    def address_for(self, channel: Channel | str) -> str | None:
        """The person's address on ``channel``; DingTalk falls back to the mobile."""
        match Channel(channel):
            case Channel.DINGTALK:
                return self.dingtalk_user_id or self.mobile
            case Channel.WECOM:
                return self.wecom_user_id
            case Channel.FEISHU:
                return self.feishu_open_id
            case Channel.EMAIL:
                return self.email
            case Channel.WEBHOOK:
                return self.webhook_url

    def channels(self) -> list[Channel]:
        """Channels the person can be reached on, the preferred one first."""
        usable = [channel for channel in Channel if self.address_for(channel)]
        usable.sort(key=lambda channel: channel != self.preferred_channel)
        return usable


class OrgUnit(_Entry):
    """HQ, a region or a group; each non-HQ unit sits under one parent."""

    id: EntryId
    name: str = Field(min_length=1)
    kind: OrgUnitKind
    parent: EntryId | None = None

    _DEPTH: ClassVar[dict[OrgUnitKind, int]] = {kind: i for i, kind in enumerate(OrgUnitKind)}

    @property
    def is_hq(self) -> bool:
        return self.kind is OrgUnitKind.HQ

    @property
    def depth(self) -> int:
        """0 for HQ, 1 for a region, 2 for a group."""
        return self._DEPTH[self.kind]


class Team(_Entry):
    """A department team: members, lead, escalation chain and, for tech, its documents."""

    id: EntryId
    name: str = Field(min_length=1)
    kind: TeamKind
    members: tuple[EntryId, ...] = ()
    lead: EntryId | None = None
    # Who receives the improvement list when the team's ratings fall; defaults to the end
    # of the escalation chain, the most senior person responsible for the team.
    head: EntryId | None = None
    escalation_chain: tuple[EntryId, ...] = ()
    document_types: tuple[EntryId, ...] = ()

    @property
    def is_tech_group(self) -> bool:
        return self.kind is TeamKind.TECH


class Stage(_Entry):
    """A collaboration stage and who owns it: a team, the requester, or by document type."""

    id: EntryId
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    owner: EntryId

    @property
    def is_owned_by_requester(self) -> bool:
        return self.owner == REQUESTER

    @property
    def is_routed_by_document_type(self) -> bool:
        return self.owner == BY_DOCUMENT_TYPE

    @property
    def owner_team(self) -> str | None:
        """The owning team's id, or None when ownership depends on the ticket."""
        special = self.is_owned_by_requester or self.is_routed_by_document_type
        return None if special else self.owner


class DocumentType(_Entry):
    """A technical document sales can ask for, e.g. ``ce_certification_report``."""

    id: EntryId
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)


class OrgDirectory(_Entry):
    """The whole directory, checked as a whole; build it with :meth:`from_mapping`.

    Every id it refers to exists, reporting lines and org units have no cycles, and each
    document type has exactly one tech group, so the routing questions below always
    have an answer for ids that are in the directory.
    """

    people: tuple[Person, ...] = ()
    org_units: tuple[OrgUnit, ...] = ()
    teams: tuple[Team, ...] = ()
    stages: tuple[Stage, ...] = ()
    document_types: tuple[DocumentType, ...] = ()

    _people: dict[str, Person] = PrivateAttr(default_factory=dict)
    _units: dict[str, OrgUnit] = PrivateAttr(default_factory=dict)
    _teams: dict[str, Team] = PrivateAttr(default_factory=dict)
    _stages: dict[str, Stage] = PrivateAttr(default_factory=dict)
    _documents: dict[str, DocumentType] = PrivateAttr(default_factory=dict)
    _document_owner: dict[str, Team] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Any, source: str | None = None) -> OrgDirectory:
        """Build a directory from parsed YAML, raising one error listing every problem."""
        if not isinstance(data, dict):
            raise OrgDirectoryError([f"top level: must be a mapping, got {data!r}"], source)
        problems = [f"{key}: is not a known section" for key in data if key not in cls.model_fields]
        people, found = parse_section("people", data.get("people"), Person.model_validate)
        problems += found
        units, found = parse_section("org_units", data.get("org_units"), OrgUnit.model_validate)
        problems += found
        teams, found = parse_section("teams", data.get("teams"), Team.model_validate)
        problems += found
        stages, found = parse_section("stages", data.get("stages"), Stage.model_validate)
        problems += found
        documents, found = parse_section(
            "document_types", data.get("document_types"), DocumentType.model_validate
        )
        problems += found
        sections = DirectorySections(people, units, teams, stages, documents)
        problems += find_reference_problems(sections)
        if problems:
            raise OrgDirectoryError(problems, source)
        return cls.model_validate(data)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # Also guards directories built directly from models rather than from_mapping.
        problems = find_reference_problems(
            DirectorySections(
                Section.of("people", self.people),
                Section.of("org_units", self.org_units),
                Section.of("teams", self.teams),
                Section.of("stages", self.stages),
                Section.of("document_types", self.document_types),
            )
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def model_post_init(self, context: Any, /) -> None:
        """Index the entries by id for the routing questions."""
        self._people = {person.id: person for person in self.people}
        self._units = {unit.id: unit for unit in self.org_units}
        self._teams = {team.id: team for team in self.teams}
        self._stages = {stage.id: stage for stage in self.stages}
        self._documents = {doc.id: doc for doc in self.document_types}
        self._document_owner = {
            doc: team for team in self.teams if team.is_tech_group for doc in team.document_types
        }

    def person(self, person_id: str) -> Person:
        """The person with ``person_id``; raises :class:`UnknownPerson`."""
        if person_id not in self._people:
            raise UnknownPerson(person_id)
        return self._people[person_id]

    def manager_of(self, person_id: str) -> Person | None:
        """The person's direct manager, or None at the top of a reporting line."""
        manager = self.person(person_id).manager
        return None if manager is None else self.person(manager)

    def reporting_line(self, person_id: str) -> list[Person]:
        """Manager, manager's manager, ... up to the top; empty for a person at the top."""
        line: list[Person] = []
        manager = self.manager_of(person_id)
        while manager is not None:
            line.append(manager)
            manager = self.manager_of(manager.id)
        return line

    def first_with_role_above(self, person_id: str, role: Role | str) -> Person | None:
        """The nearest person up the reporting line holding ``role``, e.g. a rep's manager."""
        return next((boss for boss in self.reporting_line(person_id) if boss.has_role(role)), None)

    def people_with_role(self, role: Role | str) -> list[Person]:
        """Everyone holding ``role``, in directory order."""
        return [person for person in self.people if person.has_role(role)]

    def org_unit(self, unit_id: str) -> OrgUnit:
        """The org unit with ``unit_id``; raises :class:`UnknownOrgUnit`."""
        if unit_id not in self._units:
            raise UnknownOrgUnit(unit_id)
        return self._units[unit_id]

    def org_unit_path(self, unit_id: str) -> list[OrgUnit]:
        """The units from HQ down to ``unit_id`` itself, HQ first."""
        path = [self.org_unit(unit_id)]
        while (parent := path[-1].parent) is not None:
            path.append(self.org_unit(parent))
        return path[::-1]

    def units_under(self, unit_id: str) -> list[OrgUnit]:
        """``unit_id`` itself and every unit below it."""
        unit = self.org_unit(unit_id)
        return [u for u in self.org_units if unit in self.org_unit_path(u.id)]

    def people_under(self, unit_id: str) -> list[Person]:
        """Everyone in ``unit_id`` or any unit below it, e.g. all reps of a region."""
        unit = self.org_unit(unit_id)
        return [p for p in self.people if unit in self.org_unit_path(p.org_unit)]

    def team(self, team_id: str) -> Team:
        """The team with ``team_id``; raises :class:`UnknownTeam`."""
        if team_id not in self._teams:
            raise UnknownTeam(team_id)
        return self._teams[team_id]

    def head_of(self, team_id: str) -> Person:
        """Who answers for the team's quality: its head, else the end of its chain or lead."""
        team = self.team(team_id)
        candidates = [team.head, *team.escalation_chain[-1:], team.lead]
        head = next((person_id for person_id in candidates if person_id), None)
        if head is None:
            raise EscalationRoutingError(f"team {team_id!r} has no head, chain or lead")
        return self.person(head)

    def document_type(self, document_type: str) -> DocumentType:
        """The document type; raises :class:`UnknownDocumentType`."""
        if document_type not in self._documents:
            raise UnknownDocumentType(document_type)
        return self._documents[document_type]

    def tech_group_for(self, document_type: str) -> Team:
        """The one tech group that owns ``document_type``."""
        return self._document_owner[self.document_type(document_type).id]

    def tech_groups_for(self, document_types: Iterable[str]) -> dict[Team, list[str]]:
        """Tech groups a ticket must reach, each with the documents it owes, in ask order."""
        routed: dict[Team, list[str]] = {}
        for doc in dict.fromkeys(document_types):
            routed.setdefault(self.tech_group_for(doc), []).append(doc)
        return routed

    def stage(self, stage_name: str) -> Stage:
        """The collaboration stage, e.g. ``tech_answer``; raises :class:`UnknownStage`."""
        if stage_name not in self._stages:
            raise UnknownStage(stage_name)
        return self._stages[stage_name]

    def escalation_chain(
        self, stage_name: str, requester_id: str | None = None, *, team_id: str | None = None
    ) -> list[Person]:
        """Who owns the stage first, then whom an overdue stage escalates to, in order.

        A ``requester`` stage starts at the requesting rep and climbs their reporting line
        (pass ``requester_id``); a ``by_document_type`` stage uses the chain of the tech
        group the ticket went to (pass ``team_id``, from :meth:`tech_groups_for`).
        """
        stage = self.stage(stage_name)
        if stage.is_owned_by_requester:
            if requester_id is None:
                raise EscalationRoutingError(f"stage {stage_name!r} needs the requester_id")
            return [self.person(requester_id), *self.reporting_line(requester_id)]
        if stage.is_routed_by_document_type:
            if team_id is None or not self.team(team_id).is_tech_group:
                raise EscalationRoutingError(
                    f"stage {stage_name!r} is routed by document type: pass the tech group's "
                    f"team_id, got {team_id!r}"
                )
            team = self.team(team_id)
        else:
            team = self.team(str(stage.owner_team))
            if team_id not in (None, team.id):
                raise EscalationRoutingError(
                    f"stage {stage_name!r} is owned by team {team.id!r}, not {team_id!r}"
                )
        return [self.person(person_id) for person_id in team.escalation_chain]


def load_org_directory(path: str | Path) -> OrgDirectory:
    """Read and check the directory file (UTF-8 YAML); raises :class:`OrgDirectoryError`."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise OrgDirectoryError([f"not valid YAML: {exc}"], str(path)) from exc
    return OrgDirectory.from_mapping(data, source=str(path))
