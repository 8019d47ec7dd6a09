"""Bulk import of customers into table 1: checking every row of an uploaded list.

Pure: takes the bytes of an upload and returns the valid rows and *every* problem, each
with its row number and column, so a rep fixes the whole file in one go. Nothing is
stored here; the handler applies a batch only when :attr:`ParsedImport.ok`, so a rejected
batch is never half-applied. How the file and its cells are written is read by
:mod:`services.customers.import_formats`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal, TypeVar
from zoneinfo import ZoneInfo

from openpyxl.utils import get_column_letter

from contracts.customers import CustomerTier
from salesops.orgdir import OrgDirectory, Person, Role, UnknownOrgUnit, UnknownPerson
from services.customers.import_formats import (
    Cells,
    UnreadableUpload,
    UnrecognisedFormat,
    cell_text,
    parse_amount,
    parse_instant,
    read_table,
)

T = TypeVar("T")

#: People who may own a customer.
SALES_ROLES: Final = (Role.SALES_REP, Role.GROUP_LEAD, Role.SALES_MANAGER, Role.SALES_DIRECTOR)
MAX_NAME_LENGTH: Final = 200


@dataclass(frozen=True)
class ImportColumn:
    """A column of the import file: its canonical name and the headers that mean it."""

    name: str
    required: bool
    aliases: tuple[str, ...]


#: Columns in template order; headers match case-insensitively, ``_`` and ``-`` as spaces.
IMPORT_COLUMNS: Final = (
    ImportColumn("external_key", True, ("external key", "key", "客户编号", "外部编号")),
    ImportColumn("name", True, ("customer", "客户名称", "名称")),
    ImportColumn("tier", True, ("等级", "客户等级")),
    ImportColumn("owner_id", True, ("owner", "负责人", "负责人编号")),
    ImportColumn("org_unit_id", False, ("org_unit", "组织", "部门")),
    ImportColumn(
        "estimated_contribution", True, ("estimated contribution", "预计贡献", "预计贡献额")
    ),
    ImportColumn("last_contact_at", False, ("last contact", "最近接触时间", "最近一次接触时间")),
)


@dataclass(frozen=True)
class ImportRow:
    """A valid row: a customer to register or update, keyed by ``external_key``."""

    row: int
    external_key: str
    name: str
    tier: CustomerTier
    owner_id: str
    org_unit_id: str
    estimated_contribution: Decimal
    last_contact_at: datetime | None


@dataclass(frozen=True)
class RowProblem:
    """Why a row (or, with ``row`` None, the whole file) cannot be imported."""

    row: int | None
    column: str | None
    reason: str


@dataclass(frozen=True)
class ParsedImport:
    """The outcome of reading an upload: valid rows, every problem, and warnings."""

    rows: list[ImportRow]
    problems: list[RowProblem]
    warnings: list[str]
    format: Literal["xlsx", "csv", "tsv"] | None

    @property
    def ok(self) -> bool:
        """Whether the batch may be applied: no problem in the file or any row."""
        return not self.problems


def parse_customer_import(
    content: bytes,
    *,
    content_type: str | None,
    directory: OrgDirectory,
    tz: ZoneInfo,
    now: datetime,
    max_bytes: int = 10 * 1024 * 1024,
    max_rows: int = 50_000,
) -> ParsedImport:
    """Read an .xlsx, CSV or pasted tab-separated customer list and check every row.

    The format is told by the content; ``content_type`` only makes the reason clearer
    when the content is no table at all. ``tz`` is the org's time zone for contact times
    written without an offset; ``now`` (aware) bounds them.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    try:
        table = read_table(content, max_bytes=max_bytes, max_rows=max_rows)
    except UnreadableUpload as exc:
        reason = exc.reason
        if content_type and isinstance(exc, UnrecognisedFormat):
            reason += f" (sent as {content_type})"
        return ParsedImport([], [RowProblem(None, None, reason)], [], exc.table_format)
    positions, problems, warnings = _map_header(table.header)
    warnings = table.warnings + warnings
    if problems:
        return ParsedImport([], problems, warnings, table.format)
    checker = _RowChecker(positions, directory, tz, now)
    rows: list[ImportRow] = []
    for number, cells in table.rows:
        checked = checker.check(number, cells)
        if isinstance(checked, ImportRow):
            rows.append(checked)
        else:
            problems.extend(checked)
    return ParsedImport(rows, problems, warnings, table.format)


def _header_key(title: str) -> str:
    # NFKC folds full-width letters and spaces that Chinese input methods produce.
    return re.sub(r"[\s_-]+", " ", unicodedata.normalize("NFKC", title).casefold()).strip()


_COLUMN_BY_HEADER: Final = {
    _header_key(title): column
    for column in IMPORT_COLUMNS
    for title in (column.name, *column.aliases)
}


def _map_header(header: Cells) -> tuple[dict[str, int], list[RowProblem], list[str]]:
    positions: dict[str, int] = {}
    problems: list[RowProblem] = []
    unknown: list[str] = []
    for index, cell in enumerate(header):
        title = cell_text(cell)
        column = _COLUMN_BY_HEADER.get(_header_key(title))
        if column is None:
            if title:
                unknown.append(f'"{title}"')
        elif column.name in positions:
            first, second = (get_column_letter(i + 1) for i in (positions[column.name], index))
            reason = f"columns {first} and {second} both hold {column.name}; keep one"
            problems.append(RowProblem(None, column.name, reason))
        else:
            positions[column.name] = index
    for column in IMPORT_COLUMNS:
        if column.required and column.name not in positions:
            accepted = ", ".join(f'"{title}"' for title in (column.name, *column.aliases))
            reason = f"missing required column {column.name} (accepted headers: {accepted})"
            problems.append(RowProblem(None, column.name, reason))
    warnings = [f"ignored unknown column(s): {', '.join(unknown)}"] if unknown else []
    return positions, problems, warnings


class _RowChecker:
    """Checks rows one by one, remembering keys already seen in the file."""

    def __init__(
        self, positions: dict[str, int], directory: OrgDirectory, tz: ZoneInfo, now: datetime
    ) -> None:
        self._positions = positions
        self._directory = directory
        self._tz = tz
        self._now = now
        self._row_of_key: dict[str, int] = {}

    def check(self, number: int, cells: Cells) -> ImportRow | list[RowProblem]:
        problems: list[RowProblem] = []

        def read(column: str, parse: Callable[[object], T]) -> T | None:
            index = self._positions.get(column)
            value = cells[index] if index is not None and index < len(cells) else None
            try:
                return parse(value)
            except ValueError as exc:
                problems.append(RowProblem(number, column, str(exc)))
                return None

        key = read("external_key", _required_text)
        if key is not None and (earlier := self._row_of_key.setdefault(key, number)) != number:
            reason = f"duplicate external key {key!r}: already on row {earlier}"
            problems.append(RowProblem(number, "external_key", reason))
        name = read("name", _name)
        tier = read("tier", _tier)
        owner = read("owner_id", self._owner)
        org_unit_id = read("org_unit_id", self._org_unit)
        contribution = read("estimated_contribution", _contribution)
        last_contact_at = read("last_contact_at", self._contact_time)
        if (
            problems
            or key is None
            or name is None
            or tier is None
            or owner is None
            or contribution is None
        ):
            return problems
        return ImportRow(
            row=number,
            external_key=key,
            name=name,
            tier=tier,
            owner_id=owner.id,
            org_unit_id=org_unit_id or owner.org_unit,
            estimated_contribution=contribution,
            last_contact_at=last_contact_at,
        )

    def _owner(self, value: object) -> Person:
        person_id = _required_text(value)
        try:
            person = self._directory.person(person_id)
        except UnknownPerson:
            raise ValueError(f"no person {person_id!r} in the org directory") from None
        if not any(person.has_role(role) for role in SALES_ROLES):
            roles = ", ".join(role.value for role in SALES_ROLES)
            raise ValueError(f"{person_id!r} ({person.name}) holds no sales role ({roles})")
        return person

    def _org_unit(self, value: object) -> str | None:
        unit_id = cell_text(value)
        if not unit_id:
            return None  # the owner's org unit
        try:
            return self._directory.org_unit(unit_id).id
        except UnknownOrgUnit:
            raise ValueError(f"no org unit {unit_id!r} in the org directory") from None

    def _contact_time(self, value: object) -> datetime | None:
        if not cell_text(value):
            return None
        moment = parse_instant(value, self._tz)
        if moment > self._now:
            now = self._now.astimezone(self._tz)
            raise ValueError(f"{cell_text(value)!r} is in the future (now is {now:%Y-%m-%d %H:%M})")
        return moment


def _required_text(value: object) -> str:
    text = cell_text(value)
    if not text:
        raise ValueError("required, but blank")
    return text


def _name(value: object) -> str:
    name = _required_text(value)
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{len(name)} characters long; at most {MAX_NAME_LENGTH}")
    return name


def _tier(value: object) -> CustomerTier:
    # NFKC turns the full-width Ａ of Chinese input methods into A.
    text = unicodedata.normalize("NFKC", _required_text(value)).upper()
    try:
        return CustomerTier(text)
    except ValueError:
        allowed = ", ".join(tier.value for tier in CustomerTier)
        raise ValueError(f"{cell_text(value)!r} is not a tier; allowed: {allowed}") from None


def _contribution(value: object) -> Decimal:
    _required_text(value)
    amount = parse_amount(value)
    if amount < 0:
        raise ValueError(f"{cell_text(value)!r} is negative; the contribution must be 0 or more")
    return amount.copy_abs()  # "-0" is not negative, but must not print as "-0"
