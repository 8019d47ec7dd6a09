"""A company like the article's, generated: its org directory, deterministic from a seed.

深圳康拓医疗器械有限公司 (fictitious) sells medical devices through 89 second-tier
distributors across the six provinces of South China, like the company of the seed article
(137 people). :func:`generate_company` builds its directory: a sales director over six
regional sales managers, each region split into groups with a group lead and their reps;
pre-sales/tech groups under a tech director, each owning some document types; logistics;
finance/risk; platform admins. The same seed always gives the same people, ids and
addresses (all fictitious: ``*.example.com``, made-up chat ids), so a demo, a test and a
benchmark can name the same people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

import yaml

from salesops.demo import names
from salesops.orgdir import OrgDirectory, Role

_CHANNEL_WEIGHTS: Final = {
    "sales": (("dingtalk", 45), ("wecom", 35), ("feishu", 10), ("email", 10)),
    "logistics": (("dingtalk", 50), ("wecom", 50)),
}


@dataclass(frozen=True)
class CompanyShape:
    """How big the company is. :data:`FULL` is the article's; tests use a small one."""

    #: Groups per region, largest region first (one entry per region, at most six).
    groups: tuple[int, ...] = (4, 3, 3, 2, 2, 2)
    reps: int = 85
    tech_groups: int = 3
    engineers_per_tech_group: int = 4
    logistics_staff: int = 6
    finance_staff: int = 3
    admins: int = 2
    #: The market: second-tier distributors and end customers (hospitals, clinics).
    distributors: int = 89
    end_customers: int = 2400

    def __post_init__(self) -> None:
        if not 1 <= len(self.groups) <= len(names.PROVINCES):
            raise ValueError(f"1 to {len(names.PROVINCES)} regions, got {len(self.groups)}")
        if min(self.groups) < 1 or self.reps < sum(self.groups):
            raise ValueError("every region needs a group and every group a rep")
        if not 1 <= self.tech_groups <= len(names.TECH_GROUPS):
            raise ValueError(f"1 to {len(names.TECH_GROUPS)} tech groups")

    @property
    def regions(self) -> int:
        return len(self.groups)

    @property
    def headcount(self) -> int:
        sales = 1 + self.regions + sum(self.groups) + self.reps
        tech = 1 + self.tech_groups * (1 + self.engineers_per_tech_group)
        return sales + tech + (1 + self.logistics_staff) + (1 + self.finance_staff) + self.admins


#: 1 + 6 + 16 + 85 sales, 16 tech, 7 logistics, 4 finance, 2 admins = 137 people.
FULL: Final = CompanyShape()
#: A company for tests: 2 regions, 2 groups, 4 reps, 2 tech groups; 15 people.
SMALL: Final = CompanyShape(
    groups=(1, 1),
    reps=4,
    tech_groups=2,
    engineers_per_tech_group=1,
    logistics_staff=1,
    finance_staff=1,
    admins=1,
    distributors=4,
    end_customers=24,
)


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    region_id: str
    lead: str
    reps: tuple[str, ...]


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    province: str
    cities: tuple[str, ...]
    manager: str
    groups: tuple[Group, ...]

    @property
    def reps(self) -> tuple[str, ...]:
        return tuple(rep for group in self.groups for rep in group.reps)


@dataclass(frozen=True)
class TechGroup:
    id: str
    name: str
    lead: str
    engineers: tuple[str, ...]
    document_types: tuple[str, ...]

    @property
    def chain(self) -> tuple[str, ...]:
        """Who answers first, then whom an overdue answer escalates to (before the director)."""
        return (*self.engineers[:1], self.lead)


@dataclass(frozen=True)
class Company:
    """The generated company: its structure, and the org directory file made from it."""

    seed: int
    shape: CompanyShape
    name: str
    sales_director: str
    regions: tuple[Region, ...]
    tech_director: str
    tech_groups: tuple[TechGroup, ...]
    logistics_lead: str
    logistics: tuple[str, ...]
    finance_head: str
    finance: tuple[str, ...]
    admins: tuple[str, ...]
    #: The org directory as parsed YAML (what :meth:`org_yaml` writes).
    mapping: dict[str, Any] = field(repr=False)

    @cached_property
    def directory(self) -> OrgDirectory:
        """The directory, checked by the same code every service loads it with."""
        source = f"generated company (seed {self.seed})"
        return OrgDirectory.from_mapping(self.mapping, source=source)

    @property
    def groups(self) -> tuple[Group, ...]:
        return tuple(group for region in self.regions for group in region.groups)

    @property
    def reps(self) -> tuple[str, ...]:
        return tuple(rep for region in self.regions for rep in region.reps)

    def group_of(self, rep: str) -> Group:
        return next(group for group in self.groups if rep in group.reps)

    def region_of(self, rep: str) -> Region:
        return next(region for region in self.regions if rep in region.reps)

    def org_yaml(self) -> str:
        """The directory file (``SALESOPS_ORG_FILE``), with a header saying where it came from."""
        header = (
            f"# Organisation directory of {self.name} — generated by salesops.demo.company\n"
            f"# (seed {self.seed}, {len(self.mapping['people'])} people). Every name, id and\n"
            "# address is fictitious. Regenerate instead of editing: `salesops up --demo`\n"
            "# writes it anew on every run. The format is explained in deploy/org.yaml.\n"
        )
        body = yaml.safe_dump(self.mapping, allow_unicode=True, sort_keys=False, width=100)
        return header + body


class _People:
    """Hands out unique names, ids and addresses from the seeded random source."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.entries: list[dict[str, Any]] = []
        self._names: set[str] = set()
        self._ids: set[str] = set()
        self._handles: set[str] = set()

    def _name(self) -> tuple[str, str, str]:
        while True:
            surname, surname_py = self.rng.choice(names.SURNAMES[:60])
            chars = self.rng.sample(names.GIVEN, 2 if self.rng.random() < 0.7 else 1)
            given = "".join(c for c, _ in chars)
            if surname + given not in self._names:
                self._names.add(surname + given)
                return surname + given, surname_py, "".join(p for _, p in chars)

    def _unique(self, taken: set[str], wanted: str, sep: str) -> str:
        candidate, n = wanted, 1
        while candidate in taken:
            n += 1
            candidate = f"{wanted}{sep}{n}"
        taken.add(candidate)
        return candidate

    def add(
        self,
        prefix: str,
        roles: list[Role],
        org_unit: str,
        manager: str | None,
        *,
        channels: str | tuple[tuple[str, int], ...],
    ) -> str:
        full_name, family, given = self._name()
        person_id = self._unique(self._ids, f"{prefix}-{family}-{given}", "-")
        handle = self._unique(self._handles, f"{given}.{family}", "")
        if isinstance(channels, str):
            preferred = channels
        else:
            preferred = self.rng.choices(
                [c for c, _ in channels], weights=[w for _, w in channels]
            )[0]
        entry: dict[str, Any] = {
            "id": person_id,
            "name": full_name,
            "roles": [str(role) for role in roles],
        }
        if manager is not None:
            entry["manager"] = manager
        entry["org_unit"] = org_unit
        entry["email"] = f"{handle}@{names.EMAIL_DOMAIN}"
        camel = "".join(part.capitalize() for part in handle.split(".")[::-1])
        if preferred == "dingtalk" or self.rng.random() < 0.3:
            entry["dingtalk_user_id"] = f"kt_{handle.replace('.', '_')}"
        if preferred == "wecom" or self.rng.random() < 0.2:
            entry["wecom_user_id"] = camel
        if preferred == "feishu":
            entry["feishu_open_id"] = "ou_" + self.rng.randbytes(16).hex()
        entry["preferred_channel"] = preferred
        self.entries.append(entry)
        return person_id


def generate_company(seed: int = 137, shape: CompanyShape = FULL) -> Company:
    """The company of ``seed``: same seed and shape, same directory, byte for byte."""
    rng = random.Random(f"salesops-demo-company:{seed}")
    people = _People(rng)
    units: list[dict[str, Any]] = [{"id": "hq", "name": "总部", "kind": "hq"}]

    director = people.add(
        "sd", [Role.SALES_DIRECTOR, Role.DEPARTMENT_HEAD], "hq", None, channels="dingtalk"
    )
    group_count = sum(shape.groups)
    base, extra = divmod(shape.reps, group_count)
    regions: list[Region] = []
    group_index = 0
    for (code, province, cities), group_total in zip(names.PROVINCES, shape.groups, strict=False):
        region_id = f"region-{code}"
        units.append({"id": region_id, "name": f"{province}大区", "kind": "region", "parent": "hq"})
        manager = people.add("sm", [Role.SALES_MANAGER], region_id, director, channels="dingtalk")
        groups: list[Group] = []
        for n in range(group_total):
            group_id = f"group-{code}-{n + 1}"
            name = f"{province}{names.NUMERALS[n]}组"
            units.append({"id": group_id, "name": name, "kind": "group", "parent": region_id})
            lead = people.add(
                "gl", [Role.GROUP_LEAD], group_id, manager, channels=_CHANNEL_WEIGHTS["sales"]
            )
            size = base + (1 if group_index < extra else 0)
            group_index += 1
            reps = tuple(
                people.add(
                    "rep", [Role.SALES_REP], group_id, lead, channels=_CHANNEL_WEIGHTS["sales"]
                )
                for _ in range(size)
            )
            groups.append(Group(group_id, name, region_id, lead, reps))
        region = Region(
            region_id, f"{province}大区", province, tuple(cities.split()), manager, tuple(groups)
        )
        regions.append(region)

    tech_director = people.add(
        "td", [Role.TECH_DIRECTOR, Role.DEPARTMENT_HEAD], "hq", None, channels="feishu"
    )
    documents = [doc_id for doc_id, _, _ in names.DOCUMENT_TYPES]
    tech_groups: list[TechGroup] = []
    for index, (team_id, team_name) in enumerate(names.TECH_GROUPS[: shape.tech_groups]):
        lead = people.add("tl", [Role.TECH_LEAD], "hq", tech_director, channels="feishu")
        engineers = tuple(
            people.add("te", [Role.TECH_ENGINEER], "hq", lead, channels="feishu")
            for _ in range(shape.engineers_per_tech_group)
        )
        owned = tuple(documents[index :: shape.tech_groups])
        tech_groups.append(TechGroup(team_id, team_name, lead, engineers, owned))

    logistics_lead = people.add(
        "ll", [Role.LOGISTICS_LEAD, Role.DEPARTMENT_HEAD], "hq", None, channels="dingtalk"
    )
    logistics = tuple(
        people.add(
            "lg", [Role.LOGISTICS], "hq", logistics_lead, channels=_CHANNEL_WEIGHTS["logistics"]
        )
        for _ in range(shape.logistics_staff)
    )
    finance_head = people.add(
        "fr", [Role.FINANCE_RISK, Role.DEPARTMENT_HEAD], "hq", None, channels="email"
    )
    finance = tuple(
        people.add("fr", [Role.FINANCE_RISK], "hq", finance_head, channels="email")
        for _ in range(shape.finance_staff)
    )
    admins = tuple(
        people.add("it", [Role.ADMIN], "hq", None, channels="email") for _ in range(shape.admins)
    )
    # The platform team also takes events on the signed webhook (an ops inbox).
    people.entries[-len(admins)]["webhook_url"] = f"https://ops.{names.EMAIL_DOMAIN}/hooks/salesops"

    teams: list[dict[str, Any]] = [
        {
            "id": group.id,
            "name": group.name,
            "kind": "tech",
            "members": [*group.engineers, group.lead],
            "lead": group.lead,
            "head": tech_director,
            "escalation_chain": [*group.chain, tech_director],
            "document_types": list(group.document_types),
        }
        for group in tech_groups
    ]
    teams.append(
        {
            "id": "logistics",
            "name": "物流部",
            "kind": "logistics",
            "members": [*logistics, logistics_lead],
            "lead": logistics_lead,
            "head": logistics_lead,
            "escalation_chain": [*logistics[:1], logistics_lead],
        }
    )
    teams.append(
        {
            "id": "finance-risk",
            "name": "财务风控部",
            "kind": "finance",
            "members": [finance_head, *finance],
            "lead": finance_head,
            "head": finance_head,
            "escalation_chain": [finance_head],
        }
    )
    mapping: dict[str, Any] = {
        "org_units": units,
        "people": people.entries,
        "teams": teams,
        "stages": [
            {
                "id": "tech_answer",
                "name_zh": "技术响应",
                "name_en": "tech answer",
                "owner": "by_document_type",
            },
            {
                "id": "stocking_start",
                "name_zh": "备货启动",
                "name_en": "start stocking",
                "owner": "logistics",
            },
            {
                "id": "receipt_confirmation",
                "name_zh": "签收确认",
                "name_en": "receipt confirmation",
                "owner": "requester",
            },
        ],
        "document_types": [
            {"id": doc_id, "name_zh": zh, "name_en": en} for doc_id, zh, en in names.DOCUMENT_TYPES
        ],
    }
    return Company(
        seed=seed,
        shape=shape,
        name=names.COMPANY_NAME,
        sales_director=director,
        regions=tuple(regions),
        tech_director=tech_director,
        tech_groups=tuple(tech_groups),
        logistics_lead=logistics_lead,
        logistics=logistics,
        finance_head=finance_head,
        finance=finance,
        admins=admins,
        mapping=mapping,
    )
