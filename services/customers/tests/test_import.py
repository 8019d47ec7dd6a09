"""Bulk import over HTTP: dry run, all-or-nothing, idempotent on the external key."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from nats.js import JetStreamContext

from contracts.customers import CustomerRegistered, CustomerTierChanged
from salesops.testing.apps import RunningService
from salesops.testing.events import tap_events

pytestmark = pytest.mark.integration

REP = "rep-zhang-wei"
LEAD = "gl-li-na"
HEADER = "external_key,name,tier,owner_id,estimated_contribution,last_contact_at"
CSV = "text/csv; charset=utf-8"


def csv_rows(count: int, *, tier: str = "A", start: int = 1) -> bytes:
    lines = [HEADER] + [
        f"ERP-{i:05d},客户{i},{tier},{REP},{1000 + i}.50,2026-01-0{1 + i % 4}"
        for i in range(start, start + count)
    ]
    return "\n".join(lines).encode()


async def post_import(
    service: RunningService,
    body: bytes,
    *,
    dry_run: bool = False,
    content_type: str = CSV,
    who: str = LEAD,
) -> tuple[int, dict[str, Any]]:
    response = await service.client.post(
        f"/customers/import?dry_run={'true' if dry_run else 'false'}",
        content=body,
        headers={**service.auth(who), "content-type": content_type},
    )
    return response.status_code, response.json()


async def event_count(service: RunningService) -> int:
    return int(await service.runtime.pool.fetchval("SELECT count(*) FROM events"))


async def test_a_dry_run_reports_every_bad_row_by_number_and_column_and_writes_nothing(
    customers: RunningService,
) -> None:
    body = (
        HEADER + "\n"
        "ERP-1,好客户,A,rep-zhang-wei,100,2026-01-02\n"
        "ERP-2,坏等级,D,rep-zhang-wei,100,\n"
        "ERP-3,坏日期,B,rep-zhang-wei,100,2026-13-45\n"
        "ERP-4,不是销售,C,te-luo-bin,-5,\n"
    ).encode()

    status, report = await post_import(customers, body, dry_run=True)

    assert status == 200
    found = {(p["row"], p["column"]) for p in report["problems"]}
    assert found == {
        (3, "tier"),
        (4, "last_contact_at"),
        (5, "owner_id"),
        (5, "estimated_contribution"),
    }
    assert report["rows"] == 1
    assert await event_count(customers) == 0


async def test_one_bad_row_rejects_the_whole_batch(customers: RunningService) -> None:
    body = csv_rows(20) + b"\nERP-99999,bad,Z,rep-zhang-wei,1,"
    status, problem = await post_import(customers, body)
    assert status == 422
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [(22, "tier")]
    assert "allowed: A, B, C" in problem["errors"][0]["reason"]
    assert await event_count(customers) == 0


async def test_reimporting_the_same_rows_changes_nothing_and_a_changed_row_only_what_differs(
    customers: RunningService, js: JetStreamContext, namespace: str
) -> None:
    status, first = await post_import(customers, csv_rows(300))
    assert (status, first["created"], first["unchanged"]) == (200, 300, 0)
    events_after_first = await event_count(customers)
    assert events_after_first == 600  # registered + the imported last contact, per customer

    status, again = await post_import(customers, csv_rows(300))
    assert (status, again["created"], again["updated"], again["unchanged"]) == (200, 0, 0, 300)
    assert await event_count(customers) == events_after_first

    status, changed = await post_import(customers, csv_rows(1, tier="B", start=7))
    assert (changed["updated"], changed["unchanged"]) == (1, 0)
    assert await event_count(customers) == events_after_first + 1
    listed = await customers.client.get("/customers?tier=B", headers=customers.auth(REP))
    assert [c["external_key"] for c in listed.json()] == ["ERP-00007"]


async def test_an_xlsx_workbook_imports_like_a_csv(customers: RunningService) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["客户编号", "客户名称", "客户等级", "负责人", "预计贡献"])
    sheet.append(["ERP-X1", "杭州远景", "A", REP, 250000.5])
    sheet.append(["ERP-X2", "苏州德胜", "C", REP, 1200])
    buffer = io.BytesIO()
    workbook.save(buffer)

    status, outcome = await post_import(
        customers,
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )

    assert (status, outcome["format"], outcome["created"]) == (200, "xlsx", 2)
    listed = (await customers.client.get("/customers", headers=customers.auth(REP))).json()
    assert {c["estimated_contribution"] for c in listed} == {"250000.50", "1200"}


async def test_a_file_that_is_not_a_table_is_refused_naming_the_reason(
    customers: RunningService,
) -> None:
    status, problem = await post_import(
        customers, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", content_type="text/csv"
    )
    assert status == 422
    assert "PDF" in problem["errors"][0]["reason"]


async def test_a_body_over_the_size_limit_is_413(customers: RunningService) -> None:
    status, problem = await post_import(customers, b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413
    assert problem["errors"][0]["field"] == "body"


async def test_a_rep_may_import_only_their_own_customers(customers: RunningService) -> None:
    body = (HEADER + "\nERP-1,别人的客户,A,rep-wang-fang,100,\n").encode()
    status, problem = await post_import(customers, body, who=REP)
    assert status == 422
    assert problem["errors"][0]["column"] == "owner_id"


async def test_imported_customers_are_published_like_any_other(
    customers: RunningService, js: JetStreamContext, namespace: str
) -> None:
    async with tap_events(js, "customers", namespace) as tap:
        await post_import(customers, csv_rows(3))
        await post_import(customers, csv_rows(1, tier="C", start=2))
        registered = await tap.next_of(CustomerRegistered, count=3)
        (tier_change,) = await tap.next_of(CustomerTierChanged)
    assert sorted(e.external_key or "" for e in registered) == [
        "ERP-00001",
        "ERP-00002",
        "ERP-00003",
    ]
    assert tier_change.to_tier == "C"
