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
from datetime import date, datetime
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

from salesops.testing.evidence_files import exif_offset, exif_time, pdf, photo


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
    if captured_at is None:
        taken = offset = serial = None
    else:
        taken, offset = exif_time(captured_at, tz), exif_offset(captured_at, tz)
        serial = device_serial
    return photo(
        taken=taken,
        offset=offset,
        serial=serial,
        make="HUAWEI",
        model="Mate 60 Pro",
        picture=image,
        quality=70,
    )


def proposal_file_name(customer_name: str, day: date, *, version: int = 1) -> str:
    """The name the tasks service accepts: the customer's name and the date, e.g.
    ``广州康华医疗器械有限公司_解决方案_20260401_v1.pdf``."""
    return f"{customer_name}_解决方案_{day:%Y%m%d}_v{version}.pdf"


def proposal_pdf(*, title: str, lines: list[str]) -> bytes:
    """A one-page PDF with ``lines`` of text (Latin-1; the title, in Unicode, is metadata)."""
    return pdf(lines=lines, metadata={"/Title": title, "/Producer": "salesops demo"})
