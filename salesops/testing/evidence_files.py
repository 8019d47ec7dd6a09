"""Real evidence files: photos whose EXIF holds exactly the tags given, and PDFs.

The tasks service judges evidence by content (services/tasks/photos.py, pdfs.py), so its
tests, and the demo's quarter (salesops/demo/evidence.py), upload files made here with
Pillow and pypdf rather than canned bytes. Every maker is deterministic: the same
arguments give the same bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

#: Image file directory 0 (the picture's own tags) and the EXIF sub-directory.
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_TIME_ORIGINAL = 0x9011
_BODY_SERIAL_NUMBER = 0xA431

#: A4 in points.
A4 = (595, 842)


def exif_time(at: datetime, tz: ZoneInfo) -> str:
    """``at`` as a camera set to ``tz`` records it: wall time, no offset (DateTimeOriginal)."""
    return at.astimezone(tz).strftime("%Y:%m:%d %H:%M:%S")


def exif_offset(at: datetime, tz: ZoneInfo) -> str:
    """The UTC offset of ``tz`` at ``at`` as EXIF writes it (OffsetTimeOriginal): ``+08:00``."""
    offset = at.astimezone(tz).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


def photo(
    image_format: str = "JPEG",
    *,
    taken: str | None = None,
    offset: str | None = None,
    digitized: str | None = None,
    changed: str | None = None,
    make: str | None = None,
    model: str | None = None,
    serial: str | None = None,
    orientation: int | None = None,
    size: tuple[int, int] = (64, 48),
    picture: Image.Image | None = None,
    quality: int | None = None,
) -> bytes:
    """A real photo (``image_format``: JPEG or PNG) whose EXIF holds exactly the tags given.

    ``taken`` is DateTimeOriginal, ``offset`` OffsetTimeOriginal, ``digitized``
    DateTimeDigitized, ``changed`` the file change time (DateTime), ``serial`` the camera's
    BodySerialNumber. The pixels are ``picture`` or, by default, one flat colour of ``size``.
    """
    exif = Image.Exif()
    for tag, value in ((_MAKE, make), (_MODEL, model), (_ORIENTATION, orientation)):
        if value is not None:
            exif[tag] = value
    if changed is not None:
        exif[_DATETIME] = changed
    for tag, text in (
        (_DATETIME_ORIGINAL, taken),
        (_OFFSET_TIME_ORIGINAL, offset),
        (_DATETIME_DIGITIZED, digitized),
        (_BODY_SERIAL_NUMBER, serial),
    ):
        if text is not None:  # the EXIF sub-IFD only when it holds a tag: none is no empty one
            exif.get_ifd(_EXIF_IFD)[tag] = text
    image = picture if picture is not None else Image.new("RGB", size, (120, 160, 200))
    options = {} if quality is None else {"quality": quality}
    buffer = BytesIO()
    # As bytes: Pillow's PNG writer skips an Exif object whose first IFD is empty.
    image.save(buffer, image_format, exif=exif.tobytes(), **options)
    return buffer.getvalue()


def huge_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` white pixels, compressed to a few KiB.

    Written chunk by chunk: building it with Pillow would itself decode a bomb.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def pdf(
    pages: int = 1,
    *,
    lines: Sequence[str] = (),
    metadata: Mapping[str, str] | None = None,
    password: str | None = None,
) -> bytes:
    """A real PDF of ``pages`` blank A4 pages, the first one showing ``lines`` of text.

    The text is Latin-1 (the standard Helvetica font); ``metadata`` (e.g. ``/Title``) may be
    any Unicode. With a ``password`` the file is encrypted (RC4, 128 bits).
    """
    writer = PdfWriter()
    for page_number in range(pages):
        page = writer.add_blank_page(*A4)
        if page_number == 0 and lines:
            _write_text(writer, page, lines)
    if metadata is not None:
        writer.add_metadata(dict(metadata))
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _write_text(writer: PdfWriter, page: DictionaryObject, lines: Sequence[str]) -> None:
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
