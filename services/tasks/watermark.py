"""The anti-fraud watermark reviewers see on a visit photo.

A band across the bottom of a copy of the photo states when it was taken (org time),
with which device and for which task, so a photo reused for another task or another
day shows it at a glance. The original upload is kept untouched as the evidence.
"""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont, ImageOps

JPEG_QUALITY = 85
_MIN_FONT_PX = 10
_MAX_FIELD_CHARS = 60
_BAND_COLOUR = (0, 0, 0, 150)  # black at ~60%: the photo stays visible under the text


def watermark_caption(
    *, captured_at: datetime, device_id: str | None, task_id: str, tz: ZoneInfo
) -> list[str]:
    """The lines of the watermark, e.g. ``["taken 2026-03-02 10:15 CST", ...]``."""
    taken = captured_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
    return [
        f"taken {taken}",
        f"device {_printable(device_id)}" if device_id else "unknown device",
        f"task {_printable(task_id)}",
    ]


def watermark_photo(
    content: bytes, *, captured_at: datetime, device_id: str | None, task_id: str, tz: ZoneInfo
) -> bytes:
    """A JPEG copy of the photo, upright, with the caption in a band at the bottom.

    ``content`` must have passed :func:`services.tasks.evidence.inspect_photo` (it is
    decoded here without the size checks). The output carries no EXIF: the orientation
    is already applied and reviewers need the pixels, not the metadata.
    """
    with Image.open(BytesIO(content), formats=("JPEG", "PNG")) as original:
        icc_profile = original.info.get("icc_profile")
        photo = _flatten(ImageOps.exif_transpose(original))
    lines = watermark_caption(captured_at=captured_at, device_id=device_id, task_id=task_id, tz=tz)
    _draw_band(photo, lines)
    out = BytesIO()
    photo.save(out, "JPEG", quality=JPEG_QUALITY, icc_profile=icc_profile)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent areas become white rather than JPEG's arbitrary black."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _draw_band(photo: Image.Image, lines: list[str]) -> None:
    width, height = photo.size
    font = _font_fitting(lines, width)
    line_height = round(font.size * 1.3)
    margin = _margin(font.size)
    band_height = min(height, line_height * len(lines) + 2 * margin)
    top = height - band_height
    # Only the band is composited, so a 50-megapixel photo costs no full-size RGBA copy.
    band = photo.crop((0, top, width, height)).convert("RGBA")
    overlay = Image.new("RGBA", band.size, _BAND_COLOUR)
    draw = ImageDraw.Draw(overlay)
    for index, line in enumerate(lines):
        draw.text(
            (margin, margin + index * line_height),
            line,
            font=font,
            fill=(255, 255, 255, 255),
            stroke_width=round(font.size / 20),  # an outline only where the text is large
            stroke_fill=(0, 0, 0, 255),
        )
    photo.paste(Image.alpha_composite(band, overlay).convert("RGB"), (0, top))


def _font_fitting(lines: list[str], width: int) -> ImageFont.FreeTypeFont:
    """Pillow's built-in font, about 1/40 of the width, shrunk until the longest line fits."""
    size = max(_MIN_FONT_PX, round(width / 40))
    while True:
        font = ImageFont.load_default(size=size)
        if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow built without FreeType
            raise RuntimeError("the watermark needs Pillow with FreeType support")
        margin = _margin(size)
        longest = max(font.getlength(line) for line in lines)
        if size <= _MIN_FONT_PX or longest <= width - 2 * margin:
            return font
        size = max(_MIN_FONT_PX, int(size * (width - 2 * margin) / longest))


def _margin(font_size: float) -> int:
    return max(4, round(font_size / 2))


def _printable(text: str) -> str:
    """ASCII only: the built-in font has no CJK glyphs, and control characters break lines."""
    cleaned = "".join(char if " " <= char <= "~" else "?" for char in text.strip())
    if len(cleaned) > _MAX_FIELD_CHARS:
        return cleaned[: _MAX_FIELD_CHARS - 3] + "..."
    return cleaned
