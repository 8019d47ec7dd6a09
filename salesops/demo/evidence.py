"""Real evidence files for the demo's tasks: visit photos with EXIF, proposal PDFs.

The tasks service checks evidence by content (services/tasks/photos.py, pdfs.py): a visit
photo must decode as a JPEG and carry an EXIF capture time within the tolerance of the
scheduled time; a proposal must parse as a PDF whose file name holds the customer's name
and the date. These files are made to pass (or, on purpose, to fail) exactly those checks.
Both are deterministic: the same arguments give the same bytes, so a replayed quarter
stores the same content hashes.
"""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

_EXIF_IFD = 0x8769
_MAKE, _MODEL = 0x010F, 0x0110
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
_BODY_SERIAL_NUMBER = 0xA431


def visit_photo(
    *,
    captured_at: datetime | None,
    tz: ZoneInfo,
    device_serial: str,
    label: str,
    size: tuple[int, int] = (320, 240),
) -> bytes:
    """A JPEG "taken" at ``captured_at`` (local time and offset in EXIF), or with no capture
    time at all when it is ``None`` (a screenshot, say: the service refuses it)."""
    seed = hashlib.sha256(f"{label}|{device_serial}".encode()).digest()
    image = Image.new("RGB", size, (seed[0], seed[1], seed[2]))
    draw = ImageDraw.Draw(image)
    # A few shapes so the picture is not one flat colour (and compresses like a photo).
    for i in range(6):
        x, y = seed[3 + i] % size[0], seed[9 + i] % size[1]
        colour = (seed[15 + i], seed[21 + i] % 256, seed[27 - i])
        draw.rectangle((x, y, x + size[0] // 4, y + size[1] // 5), fill=colour)
    draw.text((8, size[1] - 20), label[:40].encode("ascii", "replace").decode(), fill="white")
    exif = Image.Exif()
    exif[_MAKE] = "HUAWEI"
    exif[_MODEL] = "Mate 60 Pro"
    if captured_at is not None:
        local = captured_at.astimezone(tz)
        offset = local.strftime("%z")
        sub = exif.get_ifd(_EXIF_IFD)
        sub[_DATETIME_ORIGINAL] = local.strftime("%Y:%m:%d %H:%M:%S")
        sub[_OFFSET_TIME_ORIGINAL] = f"{offset[:3]}:{offset[3:]}"
        sub[_BODY_SERIAL_NUMBER] = device_serial
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70, exif=exif.tobytes())
    return out.getvalue()


def proposal_file_name(customer_name: str, day: date, *, version: int = 1) -> str:
    """The name the tasks service accepts: the customer's name and the date, e.g.
    ``广州康华医疗器械有限公司_解决方案_20260401_v1.pdf``."""
    return f"{customer_name}_解决方案_{day:%Y%m%d}_v{version}.pdf"


def proposal_pdf(*, title: str, lines: list[str]) -> bytes:
    """A one-page PDF with ``lines`` of text (Latin-1; the title, in Unicode, is metadata)."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)  # A4 in points
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    text = ["BT", "/F1 14 Tf", "60 780 Td", "18 TL"]
    for line in lines:
        safe = line.encode("latin-1", "replace").decode("latin-1")
        safe = safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        text.append(f"({safe}) Tj T*")
    text.append("ET")
    stream = DecodedStreamObject()
    stream.set_data("\n".join(text).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    writer.add_metadata({"/Title": title, "/Producer": "salesops demo"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
