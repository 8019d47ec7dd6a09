"""The checks on a task's proof of delivery (table 2), as pure functions over the upload.

A visit photo must decode as JPEG or PNG, carry an EXIF capture time and be taken within
the tolerance of the task's scheduled time; a proposal must be a readable PDF whose file
name holds the customer's name and the task's date. Each check raises
:class:`EvidenceRejected` with a reason the rep can act on. The reading itself lives in
:mod:`services.tasks.photos` and :mod:`services.tasks.pdfs`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from salesops.policy import Thresholds, format_duration
from salesops.problems import DomainError
from services.tasks.pdfs import UnusablePdf, count_pages, file_name_problems, normalise_file_name
from services.tasks.photos import UnusablePhoto, read_photo

MAX_PHOTO_BYTES = 15 * 2**20
MAX_PHOTO_PIXELS = 50_000_000
MAX_PROPOSAL_BYTES = 20 * 2**20
DEFAULT_CAPTURE_TOLERANCE = Thresholds().photo_capture_tolerance
#: What a file name's extension or a declared media type says the content is. Only these
#: are judged: a generic declaration (application/octet-stream, a name like "blob")
#: leaves the content to decide.
_EXTENSION_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".pdf": "application/pdf",
}
_DECLARED_TYPES = {
    "image/jpeg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/png": "image/png",
    "application/pdf": "application/pdf",
}
_KIND_NAMES = {"image/jpeg": "a JPEG image", "image/png": "a PNG image", "application/pdf": "a PDF"}
#: An unreadable EXIF text is quoted in the reason up to this many characters.
_QUOTED_CHARS = 40


class EvidenceRejected(DomainError):
    """The upload does not prove the task: wrong kind of file, unreadable, or off-rule.

    ``field`` is ``"file"`` when the content is at fault and ``"file_name"`` when the
    name is.
    """

    status = 422
    kind = "evidence-rejected"
    title = "The evidence does not prove the task"


@dataclass(frozen=True)
class PhotoEvidence:
    """A visit photo that decodes as JPEG or PNG and carries a capture time.

    ``captured_at`` is aware, in UTC. ``width`` and ``height`` are as displayed, i.e.
    after the EXIF orientation is applied. ``device_id`` is the camera's body serial
    number, else "Make Model", else ``None``.
    """

    sha256: str
    media_type: str
    captured_at: datetime
    device_id: str | None
    width: int
    height: int


@dataclass(frozen=True)
class PdfEvidence:
    """A proposal PDF that parses, is not encrypted and has pages; ``file_name`` is NFC."""

    sha256: str
    pages: int
    file_name: str


def inspect_photo(
    content: bytes,
    *,
    tz: ZoneInfo,
    max_bytes: int = MAX_PHOTO_BYTES,
    max_pixels: int = MAX_PHOTO_PIXELS,
) -> PhotoEvidence:
    """Check that ``content`` is a JPEG or PNG that decodes and has an EXIF capture time.

    The dimensions are checked before any pixel is decoded (decompression bombs). A
    capture time without an EXIF offset is read in ``tz``, the org's time zone.
    """
    _check_size("photo", content, max_bytes)
    try:
        photo = read_photo(content, tz=tz, max_pixels=max_pixels)
    except UnusablePhoto as exc:
        raise EvidenceRejected(str(exc), field="file") from exc
    if photo.captured_at is None:
        unreadable = photo.unreadable_capture_time
        if unreadable and len(unreadable) > _QUOTED_CHARS:
            unreadable = unreadable[:_QUOTED_CHARS] + "…"
        detail = f"; {unreadable!r} is not a date and time" if unreadable else ""
        raise EvidenceRejected(
            f"the photo has no capture time (EXIF DateTimeOriginal){detail}", field="file"
        )
    return PhotoEvidence(
        sha256=hashlib.sha256(content).hexdigest(),
        media_type=photo.media_type,
        captured_at=photo.captured_at,
        device_id=photo.device_id,
        width=photo.width,
        height=photo.height,
    )


def check_declared_type(media_type: str, *, file_name: str, declared: str | None) -> None:
    """Refuse a file whose name or declared media type claims another kind than its content.

    ``media_type`` is what the content was found to be. A PNG renamed ``visit.jpg`` is a
    real photo, but a file that lies about itself is no evidence to build on.
    """
    extension = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    named = _EXTENSION_TYPES.get(extension)
    sent_as = _DECLARED_TYPES.get((declared or "").split(";")[0].strip().lower())
    content = _KIND_NAMES.get(media_type, media_type)
    if named is not None and named != media_type:
        raise EvidenceRejected(
            f"the file is named {file_name!r} ({_KIND_NAMES[named]}) but it is {content}; "
            "send it under its own extension",
            field="file",
        )
    if sent_as is not None and sent_as != media_type:
        raise EvidenceRejected(
            f"the file was sent as {declared} ({_KIND_NAMES[sent_as]}) but it is {content}",
            field="file",
        )


def check_capture_time(
    captured_at: datetime,
    scheduled_at: datetime,
    tolerance: timedelta = DEFAULT_CAPTURE_TOLERANCE,
) -> None:
    """Refuse a photo taken more than ``tolerance`` before or after the scheduled time.

    The edge counts as on time (the rule is :meth:`Thresholds.photo_is_on_time`). Both
    datetimes must be aware.
    """
    if captured_at.tzinfo is None or scheduled_at.tzinfo is None:
        raise ValueError("captured_at and scheduled_at must be timezone-aware")
    if Thresholds(photo_capture_tolerance=tolerance).photo_is_on_time(captured_at, scheduled_at):
        return
    gap = captured_at - scheduled_at
    side = "after" if gap > timedelta(0) else "before"
    # Rounded up, so a photo 2h0.3s late never reads "taken 2h after, tolerance 2h".
    shown = timedelta(seconds=math.ceil(abs(gap).total_seconds()))
    raise EvidenceRejected(
        f"photo taken {format_duration(shown)} {side} the scheduled time, "
        f"tolerance {format_duration(tolerance)}",
        field="file",
    )


def inspect_proposal(
    content: bytes,
    file_name: str,
    *,
    customer_name: str,
    scheduled_date: date,
    max_bytes: int = MAX_PROPOSAL_BYTES,
) -> PdfEvidence:
    """Check a proposal: the name holds the customer and the date, the content is a PDF.

    ``scheduled_date`` is the task's date in the org's time zone; the name may write it
    YYYYMMDD or YYYY-MM-DD. The customer's name must appear exactly, after NFC.
    """
    _check_size("proposal", content, max_bytes)
    name = normalise_file_name(file_name)
    problems = file_name_problems(name, customer_name=customer_name, day=scheduled_date)
    if problems:
        raise EvidenceRejected("; ".join(problems), field="file_name")
    try:
        pages = count_pages(content)
    except UnusablePdf as exc:
        raise EvidenceRejected(str(exc), field="file") from exc
    return PdfEvidence(sha256=hashlib.sha256(content).hexdigest(), pages=pages, file_name=name)


def _check_size(what: str, content: bytes, limit: int) -> None:
    if len(content) > limit:
        mib = f"{limit / 2**20:.1f}".removesuffix(".0")
        raise EvidenceRejected(
            f"the {what} is {len(content):,} bytes, more than the limit of {limit:,} bytes"
            f" ({mib} MiB)",
            field="file",
        )
