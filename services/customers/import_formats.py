"""How an uploaded customer list is written: its file format and how its cells spell values.

The format is told by the bytes, never by the declared content type: browsers on Windows
send ``.csv`` files as ``application/vnd.ms-excel`` and pasted rows arrive as
``text/plain``. This module only *reads*; what the values must satisfy (tiers, owners,
no future dates) lives in :mod:`services.customers.importing`.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final, Literal
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

TableFormat = Literal["xlsx", "csv", "tsv"]
Cells = tuple[object, ...]

_MIB: Final = 1024 * 1024
#: Magic numbers of files uploaded by mistake, so the reason can say what the file is.
#: An encrypted (password-protected) .xlsx is an OLE2 container too.
_OLE2_HINT: Final = (
    "an old Excel .xls file or a password-protected workbook; save it as .xlsx or CSV"
)
_SIGNATURES: Final = (
    (b"%PDF-", "a PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", _OLE2_HINT),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)
_ZIP_SIGNATURES: Final = (b"PK\x03\x04", b"PK\x05\x06")
#: Real XML in a workbook compresses about tenfold; far beyond that is a zip bomb.
_MAX_UNPACK_RATIO: Final = 20
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_AMOUNT: Final = re.compile(
    r"(?P<sign>[-−]?)\s*¥?\s*(?P<sign_after_yen>[-−]?)"
    r"(?P<units>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?P<fraction>\.[0-9]+)?\s*元?"
)
_CENT: Final = Decimal("0.01")
_CHINESE_DATE: Final = re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日")
# One separator throughout, year first: 05/06/2024 is May in the US and June elsewhere.
_DATE_TIME: Final = re.compile(
    r"(?P<year>[0-9]{4})(?P<sep>[-/.])(?P<month>[0-9]{1,2})(?P=sep)(?P<day>[0-9]{1,2})"
    r"(?:(?:T|\s+)(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,6}))?)?"
    r"\s*(?P<offset>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
DATE_FORMATS_HINT: Final = "2024-05-06, 2024-05-06 09:30, 2024/5/6 or 2024年5月6日"


class UnreadableUpload(ValueError):
    """The upload is not a table this import can read; ``reason`` says why."""

    def __init__(self, reason: str, table_format: TableFormat | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.table_format = table_format


class UnrecognisedFormat(UnreadableUpload):
    """The bytes are neither an .xlsx workbook nor text, e.g. a PDF or an old .xls."""


@dataclass(frozen=True)
class Table:
    """The header and the non-blank rows of an upload, each with its spreadsheet row number."""

    format: TableFormat
    header: Cells
    rows: list[tuple[int, Cells]]
    warnings: list[str]


def read_table(content: bytes, *, max_bytes: int, max_rows: int) -> Table:
    """Read an upload as .xlsx, CSV or tab-separated text; raises :class:`UnreadableUpload`."""
    if len(content) > max_bytes:
        raise UnreadableUpload(
            f"the file has {len(content):,} bytes; the limit is {_describe_size(max_bytes)}"
        )
    if not content or content.isspace():
        raise UnreadableUpload("the file is empty")
    if content.startswith(_ZIP_SIGNATURES):
        return _read_xlsx(content, max_bytes, max_rows)
    for signature, what in _SIGNATURES:
        if content.startswith(signature):
            raise UnrecognisedFormat(f"not an .xlsx or .csv file: looks like {what}")
    return _read_text(content, max_rows)


def _describe_size(size: int) -> str:
    if size % _MIB == 0:
        return f"{size // _MIB} MiB"
    return f"{size:,} bytes"


def _read_xlsx(content: bytes, max_bytes: int, max_rows: int) -> Table:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise UnrecognisedFormat(f"not an .xlsx or .csv file: a damaged zip ({exc})") from exc
    names = {entry.filename for entry in entries}
    if not {"[Content_Types].xml", "xl/workbook.xml"} <= names:
        raise UnrecognisedFormat(f"not an .xlsx or .csv file: looks like {_describe_zip(names)}")
    if sum(entry.file_size for entry in entries) > max_bytes * _MAX_UNPACK_RATIO:
        limit = _describe_size(max_bytes * _MAX_UNPACK_RATIO)
        raise UnreadableUpload(f"the workbook unpacks to more than {limit}", "xlsx")
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and validations it drops; only values matter here.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            try:
                sheets = workbook.worksheets
                if not sheets:
                    raise UnreadableUpload("the workbook has no worksheet", "xlsx")
                notes = []
                if len(sheets) > 1:
                    others = ", ".join(f'"{sheet.title}"' for sheet in sheets[1:])
                    notes.append(
                        f'only the first sheet "{sheets[0].title}" was read; ignored: {others}'
                    )
                records = sheets[0].iter_rows(values_only=True)
                return _table_from_records(records, "xlsx", max_rows, notes)
            finally:
                workbook.close()
    except UnreadableUpload:
        raise
    except Exception as exc:  # a broken workbook fails anywhere from KeyError to XML errors
        raise UnreadableUpload(f"the .xlsx workbook could not be read: {exc!r}", "xlsx") from exc


def _describe_zip(names: set[str]) -> str:
    if "word/document.xml" in names:
        return "a Word document (.docx)"
    if "ppt/presentation.xml" in names:
        return "a PowerPoint presentation (.pptx)"
    if {"mimetype", "content.xml"} <= names:
        return "an OpenDocument file (.ods); save it as .xlsx"
    return "a zip archive"


def _read_text(content: bytes, max_rows: int) -> Table:
    text = _decode(content)
    sample = text[:65536]
    if len(_CONTROL_CHARS.findall(sample)) * 100 > len(sample):
        raise UnrecognisedFormat("not an .xlsx or .csv file: looks like binary data")
    if sample.lstrip().startswith("<"):
        # Some systems export an HTML table under an .xls name.
        raise UnrecognisedFormat(
            "not an .xlsx or .csv file: looks like HTML or XML; open it in Excel and save "
            "it as .xlsx"
        )
    # csv.Sniffer guesses wrong on one-column samples and on names with commas, while a
    # header row never contains a tab unless the rows were pasted from a spreadsheet.
    header_line = next((line for line in io.StringIO(text) if line.strip()), "")
    table_format: TableFormat = "tsv" if "\t" in header_line else "csv"
    dialect = csv.excel_tab if table_format == "tsv" else csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        return _table_from_records(reader, table_format, max_rows, [])
    except csv.Error as exc:
        raise UnreadableUpload(
            f"not well-formed {table_format.upper()} near line {reader.line_num}: {exc}",
            table_format,
        ) from exc


def _decode(content: bytes) -> str:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16")  # Excel's "Unicode Text" export
        except UnicodeDecodeError as exc:
            raise UnrecognisedFormat("not an .xlsx or .csv file: broken UTF-16 text") from exc
    # No text encoding used for CSV here puts a NUL byte in text.
    if b"\x00" in content:
        raise UnrecognisedFormat("not an .xlsx or .csv file: looks like binary data")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Excel in China saves "CSV" in GBK, of which GB18030 is a superset.
        return content.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise UnrecognisedFormat(
            "not an .xlsx or .csv file: binary data, or text neither UTF-8 nor GB18030"
        ) from exc


def _table_from_records(
    records: Iterable[Sequence[object]], table_format: TableFormat, max_rows: int, notes: list[str]
) -> Table:
    header: Cells | None = None
    rows: list[tuple[int, Cells]] = []
    # Blank rows still count, so numbers match what Excel shows in its row headers.
    for number, record in enumerate(records, start=1):
        if all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in record):
            continue
        if header is None:
            header = tuple(record)
        elif len(rows) == max_rows:
            raise UnreadableUpload(
                f"more than {max_rows:,} data rows; split the file", table_format
            )
        else:
            rows.append((number, tuple(record)))
    if header is None:
        raise UnreadableUpload("the file is empty", table_format)
    if not rows:
        raise UnreadableUpload("no data rows below the header", table_format)
    return Table(table_format, header, rows, notes)


def cell_text(value: object) -> str:
    """A cell as trimmed text: ``None`` is blank and a whole number loses Excel's ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_amount(value: object) -> Decimal:
    """An amount as written in a cell, sign kept; raises ``ValueError`` with the reason.

    Text is read exactly (``1,200,000.50``, ``¥1200``, ``1200元``, full-width digits);
    a float cell is rounded to cents, which keeps 1200.1 and drops formula noise such as
    0.1 + 0.2 = 0.30000000000000004.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value} is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not an amount")
        try:
            # repr() is the shortest text that reads back as the same float.
            return Decimal(repr(value)).quantize(_CENT, ROUND_HALF_UP)
        except InvalidOperation as exc:
            raise ValueError(f"{value} is too large an amount") from exc
    text = unicodedata.normalize("NFKC", cell_text(value))
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an amount; write digits such as 1200000.50 or 1,200,000.50"
        )
    amount = Decimal(match["units"].replace(",", "") + (match["fraction"] or ""))
    return -amount if match["sign"] or match["sign_after_yen"] else amount


def parse_instant(value: object, tz: ZoneInfo) -> datetime:
    """A date or date-time cell as an aware UTC datetime; naive values are local to ``tz``.

    A date alone means midnight. Raises ``ValueError`` with the reason.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, int | float | time):
        raise ValueError(f"{value} is not a date; format the cell as a date ({DATE_FORMATS_HINT})")
    else:
        moment = _parse_date_text(unicodedata.normalize("NFKC", cell_text(value)))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def _parse_date_text(text: str) -> datetime:
    match = _DATE_TIME.fullmatch(_CHINESE_DATE.sub(r"\1-\2-\3", text))
    if match is None:
        raise ValueError(f"{text!r} is not a date; write it as {DATE_FORMATS_HINT}")
    fraction = (match["fraction"] or "").ljust(6, "0")
    try:
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["second"] or 0),
            int(fraction),
            tzinfo=_offset(match["offset"]),
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real date or time ({exc})") from exc


def _offset(text: str | None) -> tzinfo | None:
    if text is None:
        return None
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(-offset if text[0] == "-" else offset)
