"""Bad evidence files sent through ``POST /tasks/{id}/submission``, as a phone or a forger would.

``services/tasks/test_evidence.py`` checks the inspection functions on many bad files;
here each kind of bad upload goes through HTTP, and every refusal must be a 4xx problem
naming the field with a reason, with nothing half-written: the task stays open, no file
lands in the object store, no event is appended.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nats.js import JetStreamContext

from salesops.objectstore import LocalFolderStore
from salesops.problems import PROBLEM_MEDIA_TYPE
from salesops.testing.apps import RunningService
from salesops.testing.commands import plan_task
from salesops.testing.events import publish_customer_registered, until_customers_known
from salesops.testing.evidence_files import exif_time, huge_png, pdf, photo
from services.tasks.handlers import TaskService, task_stream
from services.tasks.http import FORM_ALLOWANCE_BYTES, MAX_UPLOAD_BYTES

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
REP = "rep-zhang-wei"
CUSTOMER = "cus-ningbo"
CUSTOMER_NAME = "宁波精密模具"


@pytest.fixture
async def service(tasks: RunningService, js: JetStreamContext, namespace: str) -> RunningService:
    await publish_customer_registered(
        js, namespace, customer_id=CUSTOMER, owner_id=REP, name=CUSTOMER_NAME
    )
    await until_customers_known(tasks, 1)
    return tasks


def proposal_name(at: datetime, extension: str = "pdf") -> str:
    return f"{CUSTOMER_NAME}_方案_{at.astimezone(SHANGHAI):%Y%m%d}.{extension}"


def first_half(content: bytes) -> bytes:
    return content[: len(content) // 2]


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@dataclass(frozen=True)
class BadUpload:
    """A file for a task of ``kind`` scheduled at ``at``; refused with ``status``."""

    kind: str
    name: Callable[[datetime], str]
    content: Callable[[datetime], bytes]
    media_type: str
    reason: str
    status: int = 422


def _visit(at: datetime) -> str:
    return "visit.jpg"


BAD_UPLOADS = {
    "truncated JPEG": BadUpload(
        "visit",
        _visit,
        lambda at: photo(taken=exif_time(at, SHANGHAI), size=(256, 256))[:-600],
        "image/jpeg",
        "the photo cannot be decoded as a JPEG image",
    ),
    "truncated PNG": BadUpload(
        "visit",
        lambda at: "visit.png",
        lambda at: first_half(photo("PNG", taken=exif_time(at, SHANGHAI), size=(256, 256))),
        "image/png",
        "the photo cannot be decoded as a PNG image",
    ),
    "PNG renamed .jpg": BadUpload(
        "visit",
        _visit,
        lambda at: photo("PNG", taken=exif_time(at, SHANGHAI)),
        "image/jpeg",
        "the file is named 'visit.jpg' (a JPEG image) but it is a PNG image",
    ),
    "PNG sent as image/jpeg": BadUpload(
        "visit",
        lambda at: "visit",
        lambda at: photo("PNG", taken=exif_time(at, SHANGHAI)),
        "image/jpeg",
        "the file was sent as image/jpeg (a JPEG image) but it is a PNG image",
    ),
    "EXIF dated 1900": BadUpload(
        "visit",
        _visit,
        lambda at: photo(taken="1900:01:01 00:00:00"),
        "image/jpeg",
        "before the scheduled time, tolerance 2h",
    ),
    "EXIF dated 9999": BadUpload(
        "visit",
        _visit,
        lambda at: photo(taken="9999:12:31 23:59:59"),
        "image/jpeg",
        "after the scheduled time, tolerance 2h",
    ),
    "EXIF past the calendar's end in UTC": BadUpload(
        "visit",
        _visit,
        lambda at: photo(taken="9999:12:31 23:59:59", offset="-05:00"),
        "image/jpeg",
        "'9999:12:31 23:59:59' is not a date and time",
    ),
    "EXIF before the calendar's start in UTC": BadUpload(
        "visit",
        _visit,
        lambda at: photo(taken="0001:01:01 00:00:00", offset="+08:00"),
        "image/jpeg",
        "'0001:01:01 00:00:00' is not a date and time",
    ),
    "EXIF date malformed": BadUpload(
        "visit",
        _visit,
        lambda at: photo(taken="2026:13:45 99:99:99"),
        "image/jpeg",
        "'2026:13:45 99:99:99' is not a date and time",
    ),
    "EXIF date a page of garbage": BadUpload(
        "visit",
        _visit,
        lambda at: photo(taken="垃圾" * 5000),
        "image/jpeg",
        "no capture time (EXIF DateTimeOriginal); '",
    ),
    "decompression bomb": BadUpload(
        "visit",
        lambda at: "visit.png",
        lambda at: huge_png(20_000, 20_000),  # 400 megapixels in a few KiB
        "image/png",
        "too many pixels to open safely (a decompression bomb?)",
    ),
    "empty photo": BadUpload("visit", _visit, lambda at: b"", "image/jpeg", "the file is empty"),
    "file just over the size limit": BadUpload(
        "visit",
        _visit,
        lambda at: b"\xff\xd8\xff" + bytes(MAX_UPLOAD_BYTES - 2),
        "image/jpeg",
        f"the file may be at most {MAX_UPLOAD_BYTES:,} bytes",
        status=413,
    ),
    "PDF that is a JPEG": BadUpload(
        "proposal",
        proposal_name,
        lambda at: photo(taken=exif_time(at, SHANGHAI)),
        "application/pdf",
        "the proposal must be a PDF; this file is a JPEG image",
    ),
    "truncated PDF": BadUpload(
        "proposal",
        proposal_name,
        lambda at: first_half(pdf()),
        "application/pdf",
        "the PDF cannot be read",
    ),
    "PDF that is a zip": BadUpload(
        "proposal",
        proposal_name,
        lambda at: a_zip(),
        "application/pdf",
        "the proposal must be a PDF; this file is a ZIP or Office document",
    ),
    "PDF that is HTML": BadUpload(
        "proposal",
        proposal_name,
        lambda at: b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        "application/pdf",
        "the proposal must be a PDF; this file is not a PDF",
    ),
    "PDF renamed .jpg": BadUpload(
        "proposal",
        lambda at: proposal_name(at, "jpg"),
        lambda at: pdf(),
        "image/jpeg",
        "(a JPEG image) but it is a PDF",
    ),
    "empty PDF": BadUpload(
        "proposal", proposal_name, lambda at: b"", "application/pdf", "the file is empty"
    ),
}


async def plan(service: RunningService, kind: str, at: datetime) -> str:
    response = await plan_task(service, CUSTOMER, who=REP, at=at, kind=kind)
    assert response.status_code == 201, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def refusal(response: Any) -> tuple[int, str, str]:
    """The status, field and reason of a problem response naming one field."""
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE, response.text
    body = response.json()
    assert body["status"] == response.status_code
    ((field, reason),) = [(e["field"], e["reason"]) for e in body["errors"]]
    assert body["detail"] == reason
    return response.status_code, field, reason


async def assert_nothing_written(service: RunningService, task_id: str) -> None:
    task = await service.client.get(f"/tasks/{task_id}", headers=service.auth(REP))
    assert (task.json()["status"], task.json()["submitted_at"]) == ("planned", None)
    tasks: TaskService = service.app.state.service.tasks
    recorded = await tasks.store.read_stream(task_stream(task_id))
    assert [event.event_type for event in recorded] == ["TaskPlanned"]
    assert await service.runtime.pool.fetchval("SELECT count(*) FROM evidence_files") == 0
    assert isinstance(tasks.objects, LocalFolderStore)
    assert [p for p in tasks.objects.root.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
async def test_a_bad_file_is_refused_naming_the_field_and_nothing_is_written(
    service: RunningService, case: str
) -> None:
    bad = BAD_UPLOADS[case]
    at = service.clock.now() + timedelta(hours=1)
    task_id = await plan(service, bad.kind, at)

    response = await service.client.post(
        f"/tasks/{task_id}/submission",
        files={"file": (bad.name(at), bad.content(at), bad.media_type)},
        headers=service.auth(REP),
    )

    status, field, reason = refusal(response)
    assert (status, field) == (bad.status, "file"), reason
    assert bad.reason in reason
    assert len(reason) < 300  # an EXIF text of any length is quoted, not copied whole
    await assert_nothing_written(service, task_id)


async def test_a_photo_declared_generically_is_judged_by_its_content(
    service: RunningService,
) -> None:
    # Only a specific claim that contradicts the content is a lie; "blob" claims nothing.
    at = service.clock.now() + timedelta(hours=1)
    task_id = await plan(service, "visit", at)

    content = photo("PNG", taken=exif_time(at, SHANGHAI))
    response = await service.client.post(
        f"/tasks/{task_id}/submission",
        files={"file": ("blob", content, "application/octet-stream")},
        headers=service.auth(REP),
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "submitted"


MULTIPART_BOUNDARY = "salesops-test-boundary"


def multipart_head(file_name: str) -> bytes:
    return (
        f"--{MULTIPART_BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()


class EndlessUpload:
    """A multipart body streamed 1 MiB at a time, up to ``total`` bytes; counts what was read."""

    chunk = 2**20

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = multipart_head("visit.jpg")
        self.sent += len(head)
        yield head
        while self.sent < self.total:
            self.sent += self.chunk
            yield b"\xff" * self.chunk


async def test_a_huge_streamed_upload_is_cut_off_at_the_limit_not_read_to_its_end(
    service: RunningService,
) -> None:
    task_id = await plan(service, "visit", service.clock.now() + timedelta(hours=1))
    upload = EndlessUpload(total=500 * 2**20)  # sent without a Content-Length, as chunks

    response = await service.client.post(
        f"/tasks/{task_id}/submission",
        content=upload.__aiter__(),
        headers={
            **service.auth(REP),
            "Content-Type": f"multipart/form-data; boundary={MULTIPART_BOUNDARY}",
        },
    )

    limit = MAX_UPLOAD_BYTES + FORM_ALLOWANCE_BYTES
    assert refusal(response) == (413, "body", f"the body may be at most {limit:,} bytes")
    # Read up to the limit and one chunk more, not the 500 MiB.
    assert upload.sent <= limit + 2 * EndlessUpload.chunk
    await assert_nothing_written(service, task_id)


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    service: RunningService,
) -> None:
    task_id = await plan(service, "visit", service.clock.now() + timedelta(hours=1))
    upload = EndlessUpload(total=500 * 2**20)

    response = await service.client.post(
        f"/tasks/{task_id}/submission",
        content=upload.__aiter__(),
        headers={
            **service.auth(REP),
            "Content-Type": f"multipart/form-data; boundary={MULTIPART_BOUNDARY}",
            "Content-Length": str(upload.total),
        },
    )

    assert refusal(response)[:2] == (413, "body")
    assert upload.sent == 0
    await assert_nothing_written(service, task_id)
