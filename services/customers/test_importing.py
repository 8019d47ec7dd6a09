"""Bulk import of customers: every rule of the upload, on real CSV, TSV and .xlsx files."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from contracts.customers import CustomerTier
from salesops.orgdir import OrgDirectory, load_org_directory
from services.customers.importing import (
    ImportRow,
    ParsedImport,
    RowProblem,
    parse_customer_import,
)

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "org.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

HEADER = [
    "external_key",
    "name",
    "tier",
    "owner_id",
    "org_unit_id",
    "estimated_contribution",
    "last_contact_at",
]
CHINESE_HEADER = [
    "客户编号",
    "客户名称",
    "客户等级",
    "负责人",
    "部门",
    "预计贡献额",
    "最近接触时间",
]
ROW = ["ERP-1", "宁波精密模具有限公司", "A", "rep-zhang-wei", "", "1200000.50", "2024-05-06 09:30"]


@pytest.fixture(scope="module")
def directory() -> OrgDirectory:
    return load_org_directory(SAMPLE)


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], *, more_sheets: tuple[str, ...] = ()) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "客户"
    for number, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            if value is not None:
                sheet.cell(row=number, column=column, value=value)
    for title in more_sheets:
        workbook.create_sheet(title)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def parse(content: bytes, directory: OrgDirectory, **options: Any) -> ParsedImport:
    content_type = options.pop("content_type", "text/csv")
    return parse_customer_import(
        content, content_type=content_type, directory=directory, tz=SHANGHAI, now=NOW, **options
    )


def parse_rows(directory: OrgDirectory, *rows: list[str], **changes: str) -> ParsedImport:
    """A CSV of the standard header and ``rows``; ``changes`` edit every row by column."""
    edited = [
        [changes.get(title, cell) for title, cell in zip(HEADER, row, strict=True)] for row in rows
    ]
    return parse(csv_bytes([HEADER, *edited]), directory)


def only_problem(parsed: ParsedImport) -> RowProblem:
    assert len(parsed.problems) == 1, parsed.problems
    return parsed.problems[0]


def only_row(parsed: ParsedImport) -> ImportRow:
    assert parsed.ok, parsed.problems
    assert len(parsed.rows) == 1
    return parsed.rows[0]


# --- formats ---------------------------------------------------------------------------


def test_a_valid_csv_row_becomes_an_import_row(directory: OrgDirectory) -> None:
    parsed = parse_rows(directory, ROW)

    assert parsed.format == "csv"
    assert parsed.warnings == []
    assert only_row(parsed) == ImportRow(
        row=2,
        external_key="ERP-1",
        name="宁波精密模具有限公司",
        tier=CustomerTier.A,
        owner_id="rep-zhang-wei",
        org_unit_id="group-east-1",
        estimated_contribution=Decimal("1200000.50"),
        last_contact_at=datetime(2024, 5, 6, 1, 30, tzinfo=UTC),
    )


def test_a_utf8_csv_with_a_byte_order_mark_is_read(directory: OrgDirectory) -> None:
    parsed = parse(csv_bytes([HEADER, ROW], encoding="utf-8-sig"), directory)

    assert only_row(parsed).external_key == "ERP-1"


def test_a_gb18030_csv_with_chinese_headers_is_read(directory: OrgDirectory) -> None:
    content = csv_bytes([CHINESE_HEADER, ROW], encoding="gb18030")

    parsed = parse(content, directory, content_type="application/vnd.ms-excel")

    assert parsed.format == "csv"
    assert only_row(parsed).name == "宁波精密模具有限公司"


def test_rows_pasted_from_a_spreadsheet_are_read_as_tab_separated(
    directory: OrgDirectory,
) -> None:
    pasted = "\n".join("\t".join(row) for row in [HEADER, ROW, ["ERP-2", *ROW[1:]]]) + "\n"

    parsed = parse(pasted.encode(), directory, content_type="text/plain")

    assert parsed.format == "tsv"
    assert [row.external_key for row in parsed.rows] == ["ERP-1", "ERP-2"]
    assert parsed.ok


def test_excel_unicode_text_in_utf16_is_read_as_tab_separated(directory: OrgDirectory) -> None:
    content = csv_bytes([HEADER, ROW], encoding="utf-16", delimiter="\t")

    parsed = parse(content, directory, content_type="text/plain")

    assert parsed.format == "tsv"
    assert only_row(parsed).external_key == "ERP-1"


def test_an_xlsx_workbook_is_read_by_content_whatever_the_declared_type(
    directory: OrgDirectory,
) -> None:
    parsed = parse(xlsx_bytes([HEADER, ROW]), directory, content_type="text/csv")

    assert parsed.format == "xlsx"
    assert only_row(parsed).estimated_contribution == Decimal("1200000.50")


def test_xlsx_number_and_date_cells_are_read_by_their_type(directory: OrgDirectory) -> None:
    row = [
        10023,
        "宁波精密模具有限公司",
        "b",
        "rep-chen-jing",
        None,
        1200000,
        datetime(2024, 5, 6, 9, 30),
    ]

    imported = only_row(parse(xlsx_bytes([HEADER, row]), directory))

    assert imported.external_key == "10023"
    assert imported.tier is CustomerTier.B
    assert imported.org_unit_id == "group-east-2"
    assert imported.estimated_contribution == Decimal("1200000")
    assert imported.last_contact_at == datetime(2024, 5, 6, 1, 30, tzinfo=UTC)


def test_a_float_contribution_from_xlsx_is_rounded_to_cents(directory: OrgDirectory) -> None:
    rows: list[list[Any]] = [
        HEADER,
        ["ERP-1", "甲", "A", "rep-zhang-wei", None, 0.1 + 0.2, None],
        ["ERP-2", "乙", "A", "rep-zhang-wei", None, 1200.1, None],
    ]

    parsed = parse(xlsx_bytes(rows), directory)

    assert [row.estimated_contribution for row in parsed.rows] == [
        Decimal("0.30"),
        Decimal("1200.10"),
    ]


def test_only_the_first_sheet_is_read_and_the_others_are_reported(
    directory: OrgDirectory,
) -> None:
    parsed = parse(xlsx_bytes([HEADER, ROW], more_sheets=("说明",)), directory)

    assert parsed.ok
    assert parsed.warnings == ['only the first sheet "客户" was read; ignored: "说明"']


# --- columns ---------------------------------------------------------------------------


def test_headers_match_case_insensitively_trimmed_and_by_alias(directory: OrgDirectory) -> None:
    header = [
        " External Key ",
        "CUSTOMER",
        "Tier",
        "owner",
        "Org_Unit",
        "Estimated Contribution",
        "last contact",
    ]

    parsed = parse(csv_bytes([header, ROW]), directory)

    assert only_row(parsed).external_key == "ERP-1"


def test_optional_columns_may_be_left_out(directory: OrgDirectory) -> None:
    header = ["key", "名称", "等级", "负责人编号", "预计贡献"]

    imported = only_row(
        parse(csv_bytes([header, ["ERP-1", "甲", "C", "rep-zhang-wei", "0"]]), directory)
    )

    assert (imported.org_unit_id, imported.last_contact_at) == ("group-east-1", None)


def test_a_missing_required_column_is_a_file_level_problem_listing_accepted_names(
    directory: OrgDirectory,
) -> None:
    header = [title for title in HEADER if title != "tier"]
    row = [cell for title, cell in zip(HEADER, ROW, strict=True) if title != "tier"]

    parsed = parse(csv_bytes([header, row]), directory)

    problem = only_problem(parsed)
    assert (problem.row, problem.column) == (None, "tier")
    assert (
        problem.reason
        == 'missing required column tier (accepted headers: "tier", "等级", "客户等级")'
    )
    assert parsed.rows == []


def test_an_unknown_column_is_ignored_and_warned_once(directory: OrgDirectory) -> None:
    rows = [[*HEADER, "备注"], [*ROW, "老客户"], ["ERP-2", *ROW[1:], "新客户"]]

    parsed = parse(csv_bytes(rows), directory)

    assert parsed.ok
    assert len(parsed.rows) == 2
    assert parsed.warnings == ['ignored unknown column(s): "备注"']


def test_two_columns_for_the_same_field_are_a_file_level_problem(directory: OrgDirectory) -> None:
    parsed = parse(csv_bytes([[*HEADER, "客户名称"], [*ROW, "另一个名字"]]), directory)

    problem = only_problem(parsed)
    assert (problem.row, problem.column) == (None, "name")
    assert problem.reason == "columns B and H both hold name; keep one"


# --- rows ------------------------------------------------------------------------------


def test_blank_rows_are_skipped_and_rows_keep_the_spreadsheet_numbers(
    directory: OrgDirectory,
) -> None:
    rows = [HEADER, ROW, [""] * 7, ["ERP-2", *ROW[1:]], [], ["ERP-3", *ROW[1:]]]

    for content in (csv_bytes(rows), xlsx_bytes(rows)):
        parsed = parse(content, directory)
        assert [row.row for row in parsed.rows] == [2, 4, 6]


def test_a_duplicate_external_key_is_reported_on_the_later_row_naming_the_earlier(
    directory: OrgDirectory,
) -> None:
    parsed = parse_rows(directory, ROW, ["ERP-2", *ROW[1:]], ROW)

    assert only_problem(parsed) == RowProblem(
        4, "external_key", "duplicate external key 'ERP-1': already on row 2"
    )
    assert [row.row for row in parsed.rows] == [2, 3]


@pytest.mark.parametrize(
    "column", ["external_key", "name", "tier", "owner_id", "estimated_contribution"]
)
def test_a_blank_required_cell_is_reported(directory: OrgDirectory, column: str) -> None:
    parsed = parse_rows(directory, ROW, **{column: "  "})

    assert only_problem(parsed) == RowProblem(2, column, "required, but blank")


def test_a_name_of_exactly_200_characters_is_accepted(directory: OrgDirectory) -> None:
    name = "宁波精密模具" * 33 + "厂司"

    assert only_row(parse_rows(directory, ROW, name=name)).name == name


def test_a_name_of_201_characters_is_rejected(directory: OrgDirectory) -> None:
    parsed = parse_rows(directory, ROW, name="宁" * 201)

    assert only_problem(parsed) == RowProblem(2, "name", "201 characters long; at most 200")


@pytest.mark.parametrize(
    ("written", "tier"),
    [
        ("A", CustomerTier.A),
        ("b", CustomerTier.B),
        (" c ", CustomerTier.C),
        ("Ａ", CustomerTier.A),
        ("ｂ", CustomerTier.B),
    ],
)
def test_tiers_accept_lowercase_and_full_width_letters(
    directory: OrgDirectory, written: str, tier: CustomerTier
) -> None:
    assert only_row(parse_rows(directory, ROW, tier=written)).tier is tier


@pytest.mark.parametrize("written", ["D", "AA", "1", "A级"])
def test_a_tier_outside_abc_is_reported_with_row_and_column(
    directory: OrgDirectory, written: str
) -> None:
    parsed = parse_rows(directory, ROW, tier=written)

    assert only_problem(parsed) == RowProblem(
        2, "tier", f"{written!r} is not a tier; allowed: A, B, C"
    )


def test_an_owner_not_in_the_directory_is_rejected(directory: OrgDirectory) -> None:
    parsed = parse_rows(directory, ROW, owner_id="rep-nobody")

    assert only_problem(parsed) == RowProblem(
        2, "owner_id", "no person 'rep-nobody' in the org directory"
    )


def test_an_owner_without_a_sales_role_is_rejected(directory: OrgDirectory) -> None:
    parsed = parse_rows(directory, ROW, owner_id="te-luo-bin")

    problem = only_problem(parsed)
    assert (problem.row, problem.column) == (2, "owner_id")
    assert problem.reason.startswith("'te-luo-bin' (罗斌) holds no sales role")


@pytest.mark.parametrize(
    ("owner", "org_unit"),
    [("gl-li-na", "group-east-1"), ("sm-sun-xiaoyan", "region-south"), ("sd-zhao-guoqiang", "hq")],
)
def test_group_leads_managers_and_directors_may_own_customers(
    directory: OrgDirectory, owner: str, org_unit: str
) -> None:
    imported = only_row(parse_rows(directory, ROW, owner_id=owner))

    assert (imported.owner_id, imported.org_unit_id) == (owner, org_unit)


def test_an_explicit_org_unit_overrides_the_owners(directory: OrgDirectory) -> None:
    assert (
        only_row(parse_rows(directory, ROW, org_unit_id="region-east")).org_unit_id == "region-east"
    )


def test_an_org_unit_not_in_the_directory_is_rejected(directory: OrgDirectory) -> None:
    parsed = parse_rows(directory, ROW, org_unit_id="group-west-9")

    assert only_problem(parsed) == RowProblem(
        2, "org_unit_id", "no org unit 'group-west-9' in the org directory"
    )


@pytest.mark.parametrize("written", ["0", "0.00", "-0"])
def test_a_contribution_of_zero_is_accepted(directory: OrgDirectory, written: str) -> None:
    amount = only_row(
        parse_rows(directory, ROW, estimated_contribution=written)
    ).estimated_contribution

    assert amount == 0
    assert not amount.is_signed()


@pytest.mark.parametrize("written", ["-1", "-0.01", "¥-5", "-¥1,200", "−3"])
def test_a_negative_contribution_is_rejected(directory: OrgDirectory, written: str) -> None:
    problem = only_problem(parse_rows(directory, ROW, estimated_contribution=written))

    assert (problem.row, problem.column) == (2, "estimated_contribution")
    assert problem.reason == f"{written!r} is negative; the contribution must be 0 or more"


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ("1,200,000.50", "1200000.50"),
        ("¥1200", "1200"),
        ("￥ 1,200.5", "1200.5"),
        ("1200元", "1200"),
        ("¥12,345,678.90元", "12345678.90"),
        ("１２００", "1200"),
        ("1200000.505", "1200000.505"),
    ],
)
def test_contributions_are_exact_decimals_with_separators_yen_sign_or_yuan_suffix(
    directory: OrgDirectory, written: str, amount: str
) -> None:
    imported = only_row(parse_rows(directory, ROW, estimated_contribution=written))

    assert str(imported.estimated_contribution) == amount


@pytest.mark.parametrize("written", ["abc", "1,2,3", "12,00", "1.2E+6", "1 200", "NaN", "(100)"])
def test_a_contribution_that_is_not_a_number_is_rejected(
    directory: OrgDirectory, written: str
) -> None:
    problem = only_problem(parse_rows(directory, ROW, estimated_contribution=written))

    assert (problem.row, problem.column) == (2, "estimated_contribution")
    assert problem.reason.startswith(f"{written!r} is not an amount")


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2024-05-06", datetime(2024, 5, 5, 16, 0, tzinfo=UTC)),
        ("2024-05-06 09:30", datetime(2024, 5, 6, 1, 30, tzinfo=UTC)),
        ("2024-05-06T09:30:15", datetime(2024, 5, 6, 1, 30, 15, tzinfo=UTC)),
        ("2024-05-06T09:30:00+08:00", datetime(2024, 5, 6, 1, 30, tzinfo=UTC)),
        ("2024-05-06T09:30:00Z", datetime(2024, 5, 6, 9, 30, tzinfo=UTC)),
        ("2024-05-06 09:30:00-05:00", datetime(2024, 5, 6, 14, 30, tzinfo=UTC)),
        ("2024/5/6", datetime(2024, 5, 5, 16, 0, tzinfo=UTC)),
        ("2024/5/6 9:05", datetime(2024, 5, 6, 1, 5, tzinfo=UTC)),
        ("2024年5月6日", datetime(2024, 5, 5, 16, 0, tzinfo=UTC)),
        ("2024年5月6日 09:30", datetime(2024, 5, 6, 1, 30, tzinfo=UTC)),
    ],
)
def test_last_contact_accepts_iso_slash_and_chinese_dates_naive_ones_in_the_org_zone(
    directory: OrgDirectory, written: str, instant: datetime
) -> None:
    imported = only_row(parse_rows(directory, ROW, last_contact_at=written))

    assert imported.last_contact_at == instant
    assert imported.last_contact_at.tzinfo is UTC


def test_a_blank_last_contact_is_none(directory: OrgDirectory) -> None:
    assert only_row(parse_rows(directory, ROW, last_contact_at="")).last_contact_at is None


@pytest.mark.parametrize(
    "written",
    ["2024-13-01", "2024-02-30", "2024-05-06 25:00", "05/06/2024", "yesterday", "2024-5/6"],
)
def test_a_bad_date_is_reported_naming_row_and_column(
    directory: OrgDirectory, written: str
) -> None:
    problem = only_problem(parse_rows(directory, ROW, last_contact_at=written))

    assert (problem.row, problem.column) == (2, "last_contact_at")
    assert problem.reason.startswith(f"{written!r} is not a")


def test_a_number_in_a_date_cell_of_an_xlsx_is_reported(directory: OrgDirectory) -> None:
    row = [*ROW[:6], 45418]

    problem = only_problem(parse(xlsx_bytes([HEADER, row]), directory))

    assert (problem.row, problem.column) == (2, "last_contact_at")
    assert problem.reason.startswith("45418 is not a date")


def test_a_contact_time_in_the_future_is_rejected(directory: OrgDirectory) -> None:
    parsed = parse_rows(directory, ROW, last_contact_at="2024-05-10 12:01")

    assert only_problem(parsed) == RowProblem(
        2, "last_contact_at", "'2024-05-10 12:01' is in the future (now is 2024-05-10 12:00)"
    )


def test_a_contact_time_of_exactly_now_is_accepted(directory: OrgDirectory) -> None:
    assert (
        only_row(parse_rows(directory, ROW, last_contact_at="2024-05-10 12:00")).last_contact_at
        == NOW
    )


def test_every_problem_of_every_row_is_reported_at_once(directory: OrgDirectory) -> None:
    rows = [
        HEADER,
        ["ERP-1", "", "D", "te-luo-bin", "", "-5", "tomorrow"],
        ROW,
        ["ERP-3", "乙", "Z", "rep-chen-jing", "nowhere", "1200", "2030-01-01"],
    ]

    parsed = parse(csv_bytes(rows), directory)

    assert [(problem.row, problem.column) for problem in parsed.problems] == [
        (2, "name"),
        (2, "tier"),
        (2, "owner_id"),
        (2, "estimated_contribution"),
        (2, "last_contact_at"),
        (3, "external_key"),
        (4, "tier"),
        (4, "org_unit_id"),
        (4, "last_contact_at"),
    ]
    assert parsed.rows == []
    assert not parsed.ok


# --- whole file ------------------------------------------------------------------------


def test_pdf_bytes_are_rejected_as_a_pdf(directory: OrgDirectory) -> None:
    parsed = parse(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", directory, content_type="text/csv")

    assert only_problem(parsed) == RowProblem(
        None, None, "not an .xlsx or .csv file: looks like a PDF (sent as text/csv)"
    )
    assert parsed.format is None


@pytest.mark.parametrize("nul_free", [False, True])
def test_random_bytes_are_rejected(directory: OrgDirectory, nul_free: bool) -> None:
    noise = random.Random(20240506).randbytes(4096)
    if nul_free:  # gets past the NUL check, so GB18030 must refuse it
        noise = noise.replace(b"\x00", b"\x01")

    problem = only_problem(parse(noise, directory, content_type=None))

    assert problem.row is None
    assert problem.reason.startswith("not an .xlsx or .csv file:")


def test_an_old_xls_file_is_rejected_with_a_hint(directory: OrgDirectory) -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)

    problem = only_problem(parse(ole2, directory, content_type="application/vnd.ms-excel"))

    assert "looks like an old Excel .xls file" in problem.reason
    assert "save it as .xlsx or CSV" in problem.reason


@pytest.mark.parametrize(
    ("member", "what"),
    [("customers.csv", "a zip archive"), ("word/document.xml", "a Word document (.docx)")],
)
def test_a_zip_that_is_not_a_workbook_is_rejected(
    directory: OrgDirectory, member: str, what: str
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(member, csv_bytes([HEADER, ROW]))

    problem = only_problem(parse(buffer.getvalue(), directory, content_type=None))

    assert problem.reason == f"not an .xlsx or .csv file: looks like {what}"


def test_a_workbook_that_unpacks_far_beyond_the_size_limit_is_rejected(
    directory: OrgDirectory,
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (4 * 1024 * 1024))
    content = buffer.getvalue()

    parsed = parse(content, directory, max_bytes=64 * 1024)

    assert len(content) < 64 * 1024
    assert only_problem(parsed).reason == "the workbook unpacks to more than 1,310,720 bytes"


def test_a_damaged_workbook_is_rejected(directory: OrgDirectory) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "not xml at all")

    parsed = parse(buffer.getvalue(), directory, content_type=XLSX_TYPE)

    assert parsed.format == "xlsx"
    assert only_problem(parsed).reason.startswith("the .xlsx workbook could not be read")


def test_html_saved_as_xls_is_rejected(directory: OrgDirectory) -> None:
    problem = only_problem(parse(b"<html><table><tr><td>key</td></tr></table></html>", directory))

    assert problem.reason.startswith("not an .xlsx or .csv file: looks like HTML or XML")


@pytest.mark.parametrize("content", [b"", b"  \r\n\r\n", "\ufeff".encode()])
def test_empty_input_is_rejected(directory: OrgDirectory, content: bytes) -> None:
    assert only_problem(parse(content, directory)) == RowProblem(None, None, "the file is empty")


@pytest.mark.parametrize(
    "content", [csv_bytes([HEADER]), csv_bytes([HEADER, [], [""] * 7]), xlsx_bytes([HEADER])]
)
def test_a_header_without_data_rows_is_rejected(directory: OrgDirectory, content: bytes) -> None:
    assert only_problem(parse(content, directory)) == RowProblem(
        None, None, "no data rows below the header"
    )


def test_a_file_over_max_bytes_is_rejected_naming_the_limit(directory: OrgDirectory) -> None:
    content = csv_bytes([HEADER, ROW])

    parsed = parse(content, directory, max_bytes=len(content) - 1)

    assert (
        only_problem(parsed).reason
        == f"the file has {len(content)} bytes; the limit is {len(content) - 1} bytes"
    )


def test_a_file_of_exactly_max_bytes_is_read(directory: OrgDirectory) -> None:
    content = csv_bytes([HEADER, ROW])

    assert parse(content, directory, max_bytes=len(content)).ok


def test_the_default_size_limit_is_10_mib(directory: OrgDirectory) -> None:
    content = csv_bytes([HEADER, ROW]) + b" " * (10 * 1024 * 1024)

    assert only_problem(parse(content, directory)).reason.endswith("the limit is 10 MiB")


def test_more_rows_than_max_rows_is_rejected(directory: OrgDirectory) -> None:
    rows = [HEADER, *([f"ERP-{n}", *ROW[1:]] for n in range(3))]

    assert parse(csv_bytes(rows), directory, max_rows=3).ok
    problem = only_problem(parse(csv_bytes(rows), directory, max_rows=2))
    assert problem == RowProblem(None, None, "more than 2 data rows; split the file")


def test_now_must_be_timezone_aware(directory: OrgDirectory) -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_customer_import(
            csv_bytes([HEADER, ROW]),
            content_type=None,
            directory=directory,
            tz=SHANGHAI,
            now=datetime(2024, 5, 10, 12, 0),
        )
