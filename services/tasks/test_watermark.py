"""The anti-fraud watermark, checked on real photos by comparing pixels."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageChops, ImageStat

from salesops.testing import evidence_files
from services.tasks.watermark import watermark_caption, watermark_photo

SHANGHAI = ZoneInfo("Asia/Shanghai")
TAKEN = datetime(2026, 3, 2, 2, 15, tzinfo=UTC)  # 10:15 in Shanghai


def photo(
    size: tuple[int, int] = (800, 600),
    *,
    image_format: str = "JPEG",
    mode: str = "RGB",
    orientation: int | None = None,
) -> bytes:
    """A real photo: a smooth gradient, so re-encoding barely changes untouched pixels."""
    down = Image.linear_gradient("L")
    across = down.transpose(Image.Transpose.ROTATE_90)
    image = Image.merge("RGB", (down.resize(size), across.resize(size), down.resize(size)))
    return evidence_files.photo(image_format, orientation=orientation, picture=image.convert(mode))


def watermarked(content: bytes, device_id: str | None = "Canon EOS R5") -> Image.Image:
    out = watermark_photo(
        content, captured_at=TAKEN, device_id=device_id, task_id="task-0042", tz=SHANGHAI
    )
    assert out.startswith(b"\xff\xd8\xff")
    image = Image.open(BytesIO(out))
    assert image.format == "JPEG"
    return image


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def test_the_caption_gives_the_org_local_time_the_device_and_the_task() -> None:
    lines = watermark_caption(
        captured_at=TAKEN, device_id="Canon EOS R5", task_id="task-0042", tz=SHANGHAI
    )

    assert lines == ["taken 2026-03-02 10:15 CST", "device Canon EOS R5", "task task-0042"]


def test_a_photo_without_a_device_is_captioned_unknown_device() -> None:
    lines = watermark_caption(captured_at=TAKEN, device_id=None, task_id="t", tz=SHANGHAI)

    assert lines[1] == "unknown device"


def test_the_caption_keeps_to_characters_the_built_in_font_can_draw() -> None:
    lines = watermark_caption(
        captured_at=TAKEN, device_id="华为 P60\nPro" + "x" * 100, task_id="t", tz=SHANGHAI
    )

    assert lines[1].startswith("device ?? P60?Pro")
    assert lines[1].endswith("...")
    assert len(lines[1]) == len("device ") + 60


def test_the_watermark_is_a_jpeg_of_the_same_size_marked_only_at_the_bottom() -> None:
    content = photo((800, 600))
    original = Image.open(BytesIO(content)).convert("RGB")

    marked = watermarked(content).convert("RGB")

    assert marked.size == original.size
    top = (0, 0, 800, 400)
    bottom = (0, 560, 800, 600)
    assert mean_difference(marked.crop(top), original.crop(top)) < 2
    assert mean_difference(marked.crop(bottom), original.crop(bottom)) > 20


def test_the_watermark_applies_the_exif_orientation_first() -> None:
    content = photo((800, 600), orientation=6)  # stored landscape, shown portrait
    stored = Image.open(BytesIO(content))
    upright = stored.transpose(Image.Transpose.ROTATE_270).convert("RGB")

    marked = watermarked(content).convert("RGB")

    assert marked.size == (600, 800)
    top = (0, 0, 600, 500)
    assert mean_difference(marked.crop(top), upright.crop(top)) < 2
    assert not marked.getexif().get(0x0112)  # not to be turned a second time


@pytest.mark.parametrize("mode", ["RGBA", "L", "P"])
def test_a_png_photo_of_any_mode_becomes_a_watermarked_jpeg(mode: str) -> None:
    content = photo((320, 240), image_format="PNG", mode=mode)

    marked = watermarked(content, device_id=None)

    assert marked.size == (320, 240)
    assert marked.mode == "RGB"


def test_a_tiny_photo_is_still_watermarked() -> None:
    marked = watermarked(photo((40, 30)))

    assert marked.size == (40, 30)
