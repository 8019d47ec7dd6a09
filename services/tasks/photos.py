"""Reading a visit photo: is it really a JPEG or PNG, when was it taken, with what camera.

The content decides, never the file name: the magic bytes and Pillow decoding every
pixel must agree. The dimensions are checked before any pixel is decoded, so a tiny file
declaring a huge image (a decompression bomb) costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from zoneinfo import ZoneInfo

from PIL import Image, UnidentifiedImageError

# Magic bytes -> (media type, the Pillow decoder allowed to open it). Pillow's JPEG
# decoder also opens phone JPEGs with a multi-picture index (as format "MPO").
_KINDS = {
    b"\xff\xd8\xff": ("image/jpeg", "JPEG"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "PNG"),
}

_EXIF_IFD = 0x8769
_MAKE, _MODEL, _ORIENTATION = 0x010F, 0x0110, 0x0112
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_TIME_ORIGINAL, _OFFSET_TIME_DIGITIZED = 0x9011, 0x9012
_BODY_SERIAL_NUMBER = 0xA431
# DateTime (0x0132) is deliberately not read: it is when the file was last changed,
# which every photo editor rewrites, not when the shutter fired.
_CAPTURE_TIME_TAGS = (
    (_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL),
    (_DATETIME_DIGITIZED, _OFFSET_TIME_DIGITIZED),
)
_EXIF_DATETIME = re.compile(
    r"([0-9]{4})[:-]([0-9]{2})[:-]([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})"
)
_EXIF_OFFSET = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")


class UnusablePhoto(ValueError):
    """The bytes are no JPEG or PNG that can be decoded safely; ``str()`` says why."""


@dataclass(frozen=True)
class PhotoReading:
    """What a decoded photo says about itself; ``captured_at`` is aware UTC or ``None``.

    ``unreadable_capture_time`` is the raw EXIF text when one was present but no date.
    """

    media_type: str
    width: int
    height: int
    captured_at: datetime | None
    unreadable_capture_time: str | None
    device_id: str | None


def read_photo(content: bytes, *, tz: ZoneInfo, max_pixels: int) -> PhotoReading:
    """Decode ``content`` fully and read its EXIF; raises :class:`UnusablePhoto`.

    A capture time without an EXIF offset (OffsetTimeOriginal) is read in ``tz``.
    """
    media_type, image_format = _media_type(content)
    image = _decode(content, image_format, max_pixels)
    exif = _read_exif(image)
    exif_ifd = _exif_ifd(exif)
    captured_at, unreadable = _capture_time(exif_ifd, tz)
    width, height = image.size
    if exif.get(_ORIENTATION) in (5, 6, 7, 8):  # shown turned a quarter
        width, height = height, width
    return PhotoReading(
        media_type=media_type,
        width=width,
        height=height,
        captured_at=captured_at,
        unreadable_capture_time=unreadable,
        device_id=_device_id(exif, exif_ifd),
    )


def _media_type(content: bytes) -> tuple[str, str]:
    for magic, kind in _KINDS.items():
        if content.startswith(magic):
            return kind
    what = "a PDF" if content.startswith(b"%PDF-") else "neither a JPEG nor a PNG"
    raise UnusablePhoto(f"the photo must be a JPEG or PNG image; this file is {what}")


def _decode(content: bytes, image_format: str, max_pixels: int) -> Image.Image:
    """Open (header only), check the dimensions, verify the structure, decode the pixels."""
    try:
        image = Image.open(BytesIO(content), formats=(image_format,))
        _check_pixels(image, max_pixels)
        image.verify()
        # verify() leaves the image unusable; decoding needs a fresh one.
        image = Image.open(BytesIO(content), formats=(image_format,))
        image.load()
    except UnusablePhoto:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard fired in Image.open (its limit is process-wide; the warning
        # is an exception only where warnings are errors, e.g. under some test runners).
        raise _bomb(max_pixels) from exc
    except UnidentifiedImageError as exc:  # its message only names the in-memory file
        raise UnusablePhoto(f"the photo cannot be decoded as a {image_format} image") from exc
    except Exception as exc:  # Pillow raises many types on malformed input
        raise UnusablePhoto(
            f"the photo cannot be decoded as a {image_format} image: {exc}"
        ) from exc
    return image


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    pixels = width * height
    if pixels > max_pixels:
        raise UnusablePhoto(
            f"the image is {width}x{height} pixels ({_megapixels(pixels)}), "
            f"more than the limit of {_megapixels(max_pixels)}"
        )
    # Past Pillow's limit Image.open only warned. Refused here rather than by turning the
    # warning into an error: warnings.catch_warnings() is not thread-safe, and photos are
    # inspected in worker threads.
    if Image.MAX_IMAGE_PIXELS is not None and pixels > Image.MAX_IMAGE_PIXELS:
        raise _bomb(max_pixels)


def _bomb(max_pixels: int) -> UnusablePhoto:
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    return UnusablePhoto(
        "the image declares too many pixels to open safely (a decompression bomb?); "
        f"the limit is {_megapixels(limit)}"
    )


def _read_exif(image: Image.Image) -> Image.Exif:
    try:
        return image.getexif()
    except Exception:  # corrupt EXIF is no EXIF: the photo then has no capture time
        return Image.Exif()


def _exif_ifd(exif: Image.Exif) -> dict[int, object]:
    try:
        return dict(exif.get_ifd(_EXIF_IFD))
    except Exception:
        return {}


def _capture_time(exif_ifd: dict[int, object], tz: ZoneInfo) -> tuple[datetime | None, str | None]:
    """The first readable of DateTimeOriginal, DateTimeDigitized, with its own offset."""
    unreadable = None
    for time_tag, offset_tag in _CAPTURE_TIME_TAGS:
        raw = _text(exif_ifd.get(time_tag))
        if raw is None:
            continue
        local = _parse_exif_datetime(raw)
        if local is None:
            unreadable = unreadable or raw
            continue
        offset = _parse_offset(_text(exif_ifd.get(offset_tag)))
        try:
            return local.replace(tzinfo=offset or tz).astimezone(UTC), None
        except OverflowError:  # 9999:12:31 23:59:59 at -05:00 is past the calendar's end in UTC
            unreadable = unreadable or raw
    return None, unreadable


def _device_id(exif: Image.Exif, exif_ifd: dict[int, object]) -> str | None:
    serial = _text(exif_ifd.get(_BODY_SERIAL_NUMBER))
    if serial:
        return serial
    make, model = _text(exif.get(_MAKE)), _text(exif.get(_MODEL))
    if make and model and model.casefold().startswith(make.casefold()):
        return model  # "Canon" + "Canon EOS R5" reads "Canon EOS R5", not the make twice
    return " ".join(part for part in (make, model) if part) or None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned or None


def _parse_exif_datetime(raw: str) -> datetime | None:
    match = _EXIF_DATETIME.fullmatch(raw)
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second)
    except ValueError:  # "0000:00:00 00:00:00" from a camera whose clock was never set
        return None


def _parse_offset(raw: str | None) -> timezone | None:
    match = _EXIF_OFFSET.fullmatch(raw or "")
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset >= timedelta(hours=24):
        return None
    return timezone(-offset if sign == "-" else offset)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".removesuffix(".0") + " megapixels"
