"""Table 2 evidence rules, checked on real JPEGs, PNGs and PDFs built here with Pillow and pypdf."""

from __future__ import annotations

import hashlib
import warnings
from datetime import UTC, date, datetime, timedelta
from functools import partial
from io import BytesIO
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from salesops.testing import evidence_files
from salesops.testing.evidence_files import huge_png, pdf
from services.tasks.evidence import (
    EvidenceRejected,
    check_capture_time,
    inspect_photo,
    inspect_proposal,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCHEDULED = datetime(2026, 3, 2, 10, 15, tzinfo=SHANGHAI)
TOLERANCE = timedelta(hours=2)
TASK_DAY = date(2026, 3, 2)
CUSTOMER = "宁波精密模具"


#: A photo taken at the scheduled time unless the test says otherwise.
photo = partial(evidence_files.photo, taken="2026:03:02 10:15:00")


def refusal(excinfo: pytest.ExceptionInfo[EvidenceRejected]) -> tuple[str | None, str]:
    return excinfo.value.field, excinfo.value.reason


# Rule 1: a visit photo is a real JPEG or PNG with a capture time.


def test_a_jpeg_photo_yields_its_hash_type_capture_time_and_size() -> None:
    content = photo(taken="2026:03:02 10:15:00", size=(64, 48))

    evidence = inspect_photo(content, tz=SHANGHAI)

    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.media_type == "image/jpeg"
    assert evidence.captured_at == datetime(2026, 3, 2, 2, 15, tzinfo=UTC)
    assert evidence.captured_at.utcoffset() == timedelta(0)
    assert (evidence.width, evidence.height) == (64, 48)


def test_a_capture_time_without_offset_is_read_in_the_org_time_zone() -> None:
    content = photo(taken="2026:03:02 10:15:00")

    assert inspect_photo(content, tz=ZoneInfo("Europe/Berlin")).captured_at == datetime(
        2026, 3, 2, 9, 15, tzinfo=UTC
    )


def test_the_exif_offset_time_original_is_honoured_over_the_org_time_zone() -> None:
    content = photo(taken="2026:03:02 10:15:00", offset="-05:00")

    assert inspect_photo(content, tz=SHANGHAI).captured_at == datetime(
        2026, 3, 2, 15, 15, tzinfo=UTC
    )


def test_a_png_photo_carries_its_exif_in_an_exif_chunk() -> None:
    content = photo("PNG", taken="2026:03:02 11:00:00", offset="+08:00", serial="SN-42")
    assert b"eXIf" in content

    evidence = inspect_photo(content, tz=SHANGHAI)

    assert evidence.media_type == "image/png"
    assert evidence.captured_at == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert evidence.device_id == "SN-42"


def test_a_photo_without_exif_is_refused_for_having_no_capture_time() -> None:
    buffer = BytesIO()
    Image.new("RGB", (32, 32), "white").save(buffer, "JPEG")

    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_photo(buffer.getvalue(), tz=SHANGHAI)

    assert refusal(excinfo) == ("file", "the photo has no capture time (EXIF DateTimeOriginal)")
    assert excinfo.value.status == 422


def test_a_photo_with_only_the_digitized_time_is_dated_by_it() -> None:
    content = photo(taken=None, digitized="2026:03:02 09:00:00")

    assert inspect_photo(content, tz=SHANGHAI).captured_at == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_the_file_change_time_alone_is_no_capture_time() -> None:
    content = photo(taken=None, changed="2026:03:02 10:15:00")

    with pytest.raises(EvidenceRejected, match="no capture time"):
        inspect_photo(content, tz=SHANGHAI)


def test_a_zeroed_capture_time_from_an_unset_camera_clock_is_refused() -> None:
    content = photo(taken="0000:00:00 00:00:00")

    with pytest.raises(EvidenceRejected, match="'0000:00:00 00:00:00' is not a date and time"):
        inspect_photo(content, tz=SHANGHAI)


def test_the_device_is_the_body_serial_number_when_the_camera_records_one() -> None:
    content = photo(make="Canon", model="Canon EOS R5", serial="032021001234")

    assert inspect_photo(content, tz=SHANGHAI).device_id == "032021001234"


def test_without_a_serial_number_the_device_is_make_and_model() -> None:
    assert inspect_photo(photo(make="Apple", model="iPhone 15"), tz=SHANGHAI).device_id == (
        "Apple iPhone 15"
    )
    assert inspect_photo(photo(make="Canon", model="Canon EOS R5"), tz=SHANGHAI).device_id == (
        "Canon EOS R5"
    )


def test_a_photo_without_device_tags_is_accepted_with_no_device_id() -> None:
    assert inspect_photo(photo(), tz=SHANGHAI).device_id is None


def test_a_rotated_photo_reports_its_displayed_size() -> None:
    evidence = inspect_photo(photo(size=(64, 48), orientation=6), tz=SHANGHAI)

    assert (evidence.width, evidence.height) == (48, 64)


def test_a_pdf_named_jpg_is_not_a_photo() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_photo(pdf(), tz=SHANGHAI)

    assert refusal(excinfo) == (
        "file",
        "the photo must be a JPEG or PNG image; this file is a PDF",
    )


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"GIF89a\x01\x00\x01\x00"])
def test_bytes_that_are_neither_jpeg_nor_png_are_refused(content: bytes) -> None:
    with pytest.raises(EvidenceRejected, match="must be a JPEG or PNG image"):
        inspect_photo(content, tz=SHANGHAI)


def test_a_jpeg_magic_number_followed_by_garbage_is_refused() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_photo(b"\xff\xd8\xff" + b"garbage" * 100, tz=SHANGHAI)

    assert refusal(excinfo) == ("file", "the photo cannot be decoded as a JPEG image")


@pytest.mark.parametrize("missing_bytes", [2, 600], ids=["end-marker", "scan-data"])
def test_a_truncated_jpeg_is_refused(missing_bytes: int) -> None:
    content = photo(size=(256, 256))

    with pytest.raises(EvidenceRejected, match=r"^the photo cannot be decoded as a JPEG image: "):
        inspect_photo(content[:-missing_bytes], tz=SHANGHAI)


def test_a_png_with_a_corrupted_chunk_is_refused() -> None:
    content = bytearray(photo("PNG", size=(128, 128)))
    idat = content.index(b"IDAT")
    content[idat + 10] ^= 0xFF  # the chunk's CRC no longer matches

    with pytest.raises(EvidenceRejected, match=r"^the photo cannot be decoded as a PNG image: "):
        inspect_photo(bytes(content), tz=SHANGHAI)


def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded() -> None:
    bomb = huge_png(20_000, 20_000)  # 400 megapixels in a few KiB
    assert len(bomb) < 100_000

    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_photo(bomb, tz=SHANGHAI)

    assert refusal(excinfo) == (
        "file",
        "the image declares too many pixels to open safely (a decompression bomb?); "
        "the limit is 50 megapixels",
    )


def test_an_image_over_the_pixel_limit_is_refused_by_its_header() -> None:
    # A corrupt pixel stream proves the refusal came before decoding.
    bomb = huge_png(8_000, 8_000)
    header_only = bomb[: bomb.index(b"IDAT") + 40]

    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_photo(header_only, tz=SHANGHAI)

    assert refusal(excinfo) == (
        "file",
        "the image is 8000x8000 pixels (64 megapixels), more than the limit of 50 megapixels",
    )


@pytest.mark.parametrize(
    "warnings_as", ["ignore", "error"], ids=["warning-ignored", "warning-as-error"]
)
def test_pillows_own_bomb_limit_refuses_even_under_a_raised_pixel_limit(
    warnings_as: Literal["ignore", "error"],
) -> None:
    bomb = huge_png(10_000, 10_000)  # 100 megapixels: past Pillow's warning, not its error

    with warnings.catch_warnings():
        warnings.simplefilter(warnings_as, Image.DecompressionBombWarning)
        with pytest.raises(EvidenceRejected) as excinfo:
            inspect_photo(bomb, tz=SHANGHAI, max_pixels=200_000_000)

    assert excinfo.value.reason.endswith("(a decompression bomb?); the limit is 89.5 megapixels")


def test_the_pixel_limit_is_a_parameter() -> None:
    content = photo(size=(100, 100))

    with pytest.raises(EvidenceRejected, match="100x100 pixels"):
        inspect_photo(content, tz=SHANGHAI, max_pixels=9_999)
    assert inspect_photo(content, tz=SHANGHAI, max_pixels=10_000).width == 100


def test_a_photo_over_max_bytes_is_refused() -> None:
    content = photo()

    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_photo(content, tz=SHANGHAI, max_bytes=len(content) - 1)

    assert excinfo.value.field == "file"
    assert excinfo.value.reason.startswith(f"the photo is {len(content):,} bytes, more than")
    assert inspect_photo(content, tz=SHANGHAI, max_bytes=len(content)).width == 64


# Rule 2: the capture time lies within the tolerance of the scheduled time, edges included.


def test_a_photo_taken_within_the_tolerance_is_accepted() -> None:
    check_capture_time(SCHEDULED + timedelta(minutes=30), SCHEDULED, TOLERANCE)
    check_capture_time(SCHEDULED - timedelta(minutes=90), SCHEDULED, TOLERANCE)


def test_a_photo_taken_exactly_2_hours_after_the_scheduled_time_is_accepted() -> None:
    check_capture_time(SCHEDULED + timedelta(hours=2), SCHEDULED, TOLERANCE)


def test_a_photo_taken_exactly_2_hours_before_the_scheduled_time_is_accepted() -> None:
    check_capture_time(SCHEDULED - timedelta(hours=2), SCHEDULED, TOLERANCE)


def test_a_photo_taken_one_second_more_than_2_hours_after_is_refused() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        check_capture_time(SCHEDULED + timedelta(hours=2, seconds=1), SCHEDULED, TOLERANCE)

    assert refusal(excinfo) == (
        "file",
        "photo taken 2h1s after the scheduled time, tolerance 2h",
    )


def test_a_photo_taken_one_second_more_than_2_hours_before_is_refused() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        check_capture_time(SCHEDULED - timedelta(hours=2, seconds=1), SCHEDULED, TOLERANCE)

    assert excinfo.value.reason == "photo taken 2h1s before the scheduled time, tolerance 2h"


def test_the_reason_states_the_gap_and_the_tolerance() -> None:
    with pytest.raises(EvidenceRejected, match=r"^photo taken 3h10m after the scheduled time"):
        check_capture_time(SCHEDULED + timedelta(hours=3, minutes=10), SCHEDULED, TOLERANCE)
    with pytest.raises(EvidenceRejected, match=r"^photo taken 26h before .*, tolerance 30m$"):
        check_capture_time(SCHEDULED - timedelta(hours=26), SCHEDULED, timedelta(minutes=30))


def test_a_fraction_of_a_second_past_the_tolerance_reads_as_a_whole_second() -> None:
    with pytest.raises(EvidenceRejected, match="taken 2h1s after"):
        check_capture_time(SCHEDULED + timedelta(hours=2, microseconds=1), SCHEDULED, TOLERANCE)


def test_the_tolerance_defaults_to_the_policy_2_hours() -> None:
    check_capture_time(SCHEDULED + timedelta(hours=2), SCHEDULED)
    with pytest.raises(EvidenceRejected, match=r"tolerance 2h$"):
        check_capture_time(SCHEDULED + timedelta(hours=2, minutes=1), SCHEDULED)


def test_a_photo_dated_in_another_time_zone_is_compared_as_the_same_instant() -> None:
    content = photo(taken="2026:03:02 06:15:00", offset="+02:00")  # 12:15 in Shanghai

    captured_at = inspect_photo(content, tz=SHANGHAI).captured_at

    check_capture_time(captured_at, SCHEDULED, TOLERANCE)
    with pytest.raises(EvidenceRejected, match="2h1s after"):
        check_capture_time(captured_at + timedelta(seconds=1), SCHEDULED, TOLERANCE)


def test_naive_datetimes_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_capture_time(datetime(2026, 3, 2, 10, 15), SCHEDULED, TOLERANCE)


# Rule 3: a proposal is a real PDF named after the customer and the task's date.


def test_a_valid_proposal_yields_its_hash_pages_and_name() -> None:
    content = pdf(pages=3)

    evidence = inspect_proposal(
        content, f"{CUSTOMER}_方案_20260302.pdf", customer_name=CUSTOMER, scheduled_date=TASK_DAY
    )

    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.pages == 3
    assert evidence.file_name == f"{CUSTOMER}_方案_20260302.pdf"


def test_the_date_may_be_written_with_dashes() -> None:
    evidence = inspect_proposal(
        pdf(),
        "Acme GmbH proposal 2026-03-02.pdf",
        customer_name="Acme GmbH",
        scheduled_date=TASK_DAY,
    )

    assert evidence.pages == 1


def test_a_file_name_without_a_date_is_refused() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_proposal(
            pdf(), f"{CUSTOMER}_方案.pdf", customer_name=CUSTOMER, scheduled_date=TASK_DAY
        )

    assert refusal(excinfo) == (
        "file_name",
        "the file name must contain the task's date, written 20260302 or 2026-03-02",
    )


def test_a_file_name_with_another_date_is_refused() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_proposal(
            pdf(), f"{CUSTOMER}_方案_20260301.pdf", customer_name=CUSTOMER, scheduled_date=TASK_DAY
        )

    assert refusal(excinfo) == (
        "file_name",
        "the file name has the date 2026-03-01 but the task is on 2026-03-02; "
        "write 20260302 or 2026-03-02",
    )


def test_digits_glued_to_the_date_do_not_make_it_the_date() -> None:
    with pytest.raises(EvidenceRejected, match="must contain the task's date"):
        inspect_proposal(
            pdf(),
            f"{CUSTOMER}_order_1202603021.pdf",
            customer_name=CUSTOMER,
            scheduled_date=TASK_DAY,
        )


def test_a_file_name_without_the_customer_name_is_refused() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_proposal(
            pdf(), "方案_20260302.pdf", customer_name=CUSTOMER, scheduled_date=TASK_DAY
        )

    assert refusal(excinfo) == (
        "file_name",
        f"the file name must contain the customer's name '{CUSTOMER}'",
    )


def test_a_file_name_missing_both_name_and_date_says_both() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_proposal(pdf(), "proposal.pdf", customer_name=CUSTOMER, scheduled_date=TASK_DAY)

    assert "customer's name" in excinfo.value.reason
    assert "task's date" in excinfo.value.reason


def test_the_customer_name_matches_after_unicode_normalisation() -> None:
    decomposed = "Cafe\u0301 Mu\u0308ller 20260302.pdf"  # as macOS writes "Café Müller"

    evidence = inspect_proposal(
        pdf(), decomposed, customer_name="Café Müller", scheduled_date=TASK_DAY
    )

    assert evidence.file_name == "Café Müller 20260302.pdf"


def test_only_the_base_name_of_a_client_path_counts() -> None:
    evidence = inspect_proposal(
        pdf(),
        "C:\\fakepath\\宁波精密模具_方案_20260302.pdf",
        customer_name=CUSTOMER,
        scheduled_date=TASK_DAY,
    )

    assert evidence.file_name == "宁波精密模具_方案_20260302.pdf"


def test_a_pdf_with_no_pages_is_refused() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_proposal(
            pdf(pages=0),
            f"{CUSTOMER}_20260302.pdf",
            customer_name=CUSTOMER,
            scheduled_date=TASK_DAY,
        )

    assert refusal(excinfo) == ("file", "the PDF has no pages")


@pytest.mark.parametrize("password", ["secret", ""])
def test_an_encrypted_pdf_is_refused(password: str) -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_proposal(
            pdf(password=password),
            f"{CUSTOMER}_20260302.pdf",
            customer_name=CUSTOMER,
            scheduled_date=TASK_DAY,
        )

    assert refusal(excinfo) == (
        "file",
        "the PDF is encrypted; save it again without a password or restrictions",
    )


def test_a_png_named_pdf_is_refused() -> None:
    with pytest.raises(EvidenceRejected) as excinfo:
        inspect_proposal(
            photo("PNG"),
            f"{CUSTOMER}_20260302.pdf",
            customer_name=CUSTOMER,
            scheduled_date=TASK_DAY,
        )

    assert refusal(excinfo) == ("file", "the proposal must be a PDF; this file is a PNG image")


def test_a_pdf_header_over_garbage_is_refused() -> None:
    with pytest.raises(EvidenceRejected, match="the PDF cannot be read"):
        inspect_proposal(
            b"%PDF-1.7\n" + b"garbage " * 200,
            f"{CUSTOMER}_20260302.pdf",
            customer_name=CUSTOMER,
            scheduled_date=TASK_DAY,
        )


def test_a_proposal_over_max_bytes_is_refused() -> None:
    content = pdf()

    with pytest.raises(EvidenceRejected, match=f"the proposal is {len(content):,} bytes"):
        inspect_proposal(
            content,
            f"{CUSTOMER}_20260302.pdf",
            customer_name=CUSTOMER,
            scheduled_date=TASK_DAY,
            max_bytes=len(content) - 1,
        )
