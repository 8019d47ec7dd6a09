"""Reading a proposal: is it a usable PDF, and does its name hold the customer and date.

The content is checked by parsing it (a renamed image is not a PDF). The name is
compared after Unicode NFC normalisation: macOS hands out a decomposed "é", Windows a
composed one, and both must match the customer's name.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from io import BytesIO

from pypdf import PdfReader

_NOT_PDF = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PK\x03\x04": "a ZIP or Office document",
}
# A date is YYYYMMDD or YYYY-MM-DD not glued to more digits: "方案_20260302_v2" holds
# one, the order number "1202603021" none.
_DATE_IN_NAME = re.compile(
    r"(?<![0-9])(?:([0-9]{4})([0-9]{2})([0-9]{2})|([0-9]{4})-([0-9]{2})-([0-9]{2}))(?![0-9])"
)


class UnusablePdf(ValueError):
    """The bytes are no readable, unencrypted PDF with pages; ``str()`` says why."""


def count_pages(content: bytes) -> int:
    """The page count of a PDF that parses and is not encrypted; raises :class:`UnusablePdf`."""
    if not content.startswith(b"%PDF-"):
        what = next((kind for magic, kind in _NOT_PDF.items() if content.startswith(magic)), None)
        raise UnusablePdf(f"the proposal must be a PDF; this file is {what or 'not a PDF'}")
    try:
        reader = PdfReader(BytesIO(content), strict=False)
        encrypted = reader.is_encrypted
        # An encrypted PDF's page tree cannot be read without the password.
        pages = 0 if encrypted else len(reader.pages)
    except Exception as exc:  # pypdf raises many types on malformed input
        raise UnusablePdf(f"the PDF cannot be read: {exc}") from exc
    if encrypted:
        raise UnusablePdf("the PDF is encrypted; save it again without a password or restrictions")
    if pages == 0:
        raise UnusablePdf("the PDF has no pages")
    return pages


def normalise_file_name(file_name: str) -> str:
    """The NFC base name: browsers may send a client path such as ``C:\\fakepath\\x.pdf``."""
    return unicodedata.normalize("NFC", re.split(r"[\\/]", file_name)[-1]).strip()


def file_name_problems(name: str, *, customer_name: str, day: date) -> list[str]:
    """What the (normalised) name lacks: the customer's name, the date ``day``, or both."""
    customer = unicodedata.normalize("NFC", customer_name).strip()
    if not customer:
        raise ValueError("customer_name must not be empty")
    problems = []
    if customer not in name:
        problems.append(f"the file name must contain the customer's name {customer!r}")
    written = {_as_date(match) for match in _DATE_IN_NAME.finditer(name)}
    if day not in written:
        forms = f"{day:%Y%m%d} or {day:%Y-%m-%d}"
        others = sorted(str(other) for other in written if other is not None)
        if others:
            problems.append(
                f"the file name has the date {', '.join(others)} but the task is on "
                f"{day:%Y-%m-%d}; write {forms}"
            )
        else:
            problems.append(f"the file name must contain the task's date, written {forms}")
    return problems


def _as_date(match: re.Match[str]) -> date | None:
    year, month, day = (int(part) for part in match.groups() if part is not None)
    try:
        return date(year, month, day)
    except ValueError:  # eight digits that are no date, e.g. part of an order number
        return None
