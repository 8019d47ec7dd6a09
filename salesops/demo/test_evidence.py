"""The demo's evidence files pass (or, where planned, fail) the tasks service's own checks."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from salesops.demo import Action, QuarterPlan, Records, generate_company, plan_quarter
from salesops.demo.evidence import proposal_file_name, proposal_pdf, visit_photo
from salesops.demo.player import request_for
from salesops.demo.quarter import TIMEZONE
from salesops.policy import Thresholds
from services.tasks.evidence import (
    EvidenceRejected,
    check_capture_time,
    check_declared_type,
    inspect_photo,
    inspect_proposal,
)

TOLERANCE = Thresholds().photo_capture_tolerance


@pytest.fixture(scope="module")
def week() -> QuarterPlan:
    return plan_quarter(generate_company(137), days=7)


Submitted = tuple[bytes, str, str | None, datetime, str, bool]


def _files(plan: QuarterPlan, kind: str) -> list[Submitted]:
    """Every submitted file of ``kind``: content, name, declared type, scheduled time,
    customer name, and whether the plan means it to be rejected."""
    records = Records()
    records.customers = {c.external_key: c.external_key for c in plan.customers}
    names = {c.external_key: c.name for c in plan.customers}
    scheduled: dict[str, tuple[datetime, str]] = {}
    found: list[Submitted] = []
    for command in plan.commands:
        if command.action is Action.PLAN_TASK:
            key = command.params["task"]
            records.tasks[key] = key
            at = datetime.fromisoformat(command.params["scheduled_at"])
            scheduled[key] = (at, names[command.params["customer"]])
        elif command.action is Action.SUBMIT_TASK and kind in command.params:
            request = request_for(command, records, command.at)
            assert request.files is not None
            name, content, media_type = request.files["file"]
            at, customer = scheduled[command.params["task"]]
            found.append((content, name, media_type, at, customer, command.expect == 422))
    return found


def test_visit_photos_carry_a_capture_time_the_service_accepts(week: QuarterPlan) -> None:
    photos = _files(week, "photo")
    assert len(photos) > 100

    def check(content: bytes, name: str, media_type: str | None, at: datetime) -> str | None:
        photo = inspect_photo(content, tz=TIMEZONE)
        check_declared_type(photo.media_type, file_name=name, declared=media_type)
        check_capture_time(photo.captured_at, at, TOLERANCE)
        return photo.device_id

    for content, name, media_type, scheduled_at, _, meant_to_fail in photos:
        if meant_to_fail:
            with pytest.raises(EvidenceRejected, match=r"capture time|scheduled time"):
                check(content, name, media_type, scheduled_at)
        else:
            device = check(content, name, media_type, scheduled_at)
            assert device is not None
            assert device.startswith("KT-")  # the rep's phone, recorded
    rejected = sum(1 for *_, meant_to_fail in photos if meant_to_fail)
    assert 0 < rejected < len(photos) / 5
    # Different visits, different pictures (content-addressed storage would merge copies).
    assert len({content for content, *_ in photos}) == len(photos)


def test_proposals_are_pdfs_named_after_customer_and_day(week: QuarterPlan) -> None:
    proposals = _files(week, "pdf")
    assert len(proposals) > 50
    for content, name, media_type, scheduled_at, customer, meant_to_fail in proposals:
        day = scheduled_at.astimezone(TIMEZONE).date()
        if meant_to_fail:
            with pytest.raises(EvidenceRejected) as refused:
                inspect_proposal(content, name, customer_name=customer, scheduled_date=day)
            assert refused.value.field == "file_name"  # the content is fine, the date is not
            continue
        pdf = inspect_proposal(content, name, customer_name=customer, scheduled_date=day)
        check_declared_type("application/pdf", file_name=pdf.file_name, declared=media_type)
        assert pdf.pages == 1
    assert any(meant_to_fail for *_, meant_to_fail in proposals)


def test_evidence_files_are_the_same_bytes_every_time() -> None:
    at = datetime.fromisoformat("2026-04-01T02:30:00+00:00")
    tz = ZoneInfo("Asia/Shanghai")
    one = visit_photo(captured_at=at, tz=tz, device_serial="KT-1", label="T000001")
    assert one == visit_photo(captured_at=at, tz=tz, device_serial="KT-1", label="T000001")
    assert one != visit_photo(captured_at=at, tz=tz, device_serial="KT-1", label="T000002")
    pdf = proposal_pdf(title="方案", lines=["a", "b (c)"])
    assert pdf == proposal_pdf(title="方案", lines=["a", "b (c)"])
    # A photo without EXIF is refused for the reason the rep needs to hear.
    bare = visit_photo(captured_at=None, tz=tz, device_serial="KT-1", label="x")
    with pytest.raises(EvidenceRejected, match="no capture time"):
        inspect_photo(bare, tz=tz)
    name = proposal_file_name("广州康华医疗器械有限公司", at.date())
    assert name == "广州康华医疗器械有限公司_解决方案_20260401_v1.pdf"
