"""The console in real headless Chromium: each role's main path against a running stack.

Customers, tasks, collaboration and metrics run in-process on real ports with their own
schemas, the console in front of them; people sign in through the development person
picker, each in their own browser context (phone or desk). A ManualClock set to a
Tuesday morning in Asia/Shanghai drives business time; the browser runs in another time
zone, so every time shown is checked to be the org's. Each step is photographed at phone
(375x812) and desk (1280x900) width into ``SALESOPS_TEST_ARTIFACTS`` (default
``test-artifacts/``), and at phone width no screen may scroll sideways. Values shown are
compared with what the APIs answer; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, Route, expect

from contracts.tasks import ConcessionExceeded
from salesops.clock import ManualClock
from salesops.testing import evidence_files
from salesops.testing.apps import RunningService, running_service
from salesops.testing.browser import DESKTOP, PHONE, RequestLog, artifacts, chromium
from salesops.testing.served import serving
from salesops.testing.waiting import eventually
from services.collaboration.service import COLLABORATION
from services.console.app import create_console_app
from services.console.settings import ConsoleSettings
from services.customers.service import CUSTOMERS
from services.metrics.service import METRICS
from services.notifier.templates import record_link
from services.tasks.service import TASKS
from services.tasks.task import concession_pct

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Tuesday morning in the org's zone; the browsers live in Berlin, 7 hours behind.
MORNING = datetime(2026, 3, 10, 9, 30, tzinfo=SHANGHAI)
BROWSER_ZONE = "Europe/Berlin"

REP = "rep-zhang-wei"
LEAD = "gl-li-na"
MANAGER = "sm-qian-wenbo"
DIRECTOR = "sd-zhao-guoqiang"
ELECTRICAL_ENGINEER = "te-luo-bin"
STRUCTURAL_ENGINEER = "te-tang-liang"
LOGISTICS = "lg-cao-yang"
CUSTOMER_NAME = "宁波精密模具有限公司"
QUIET_CUSTOMER = "杭州久未联系机械厂"

expect.set_options(timeout=10_000)


@dataclass
class Stack:
    """The services on real ports and the console in front of them."""

    base_url: str
    services: dict[str, RunningService]
    clock: ManualClock

    async def call(
        self, service: str, method: str, path: str, who: str, expect_status: int = 200, **kw: Any
    ) -> Any:
        running = self.services[service]
        response = await running.client.request(method, path, headers=running.auth(who), **kw)
        assert response.status_code == expect_status, response.text
        return response.json()


@pytest.fixture
async def stack(
    database_url: str, nats_url: str, namespace: str, schema: str, clock: ManualClock
) -> AsyncIterator[Stack]:
    clock.set(MORNING)
    async with contextlib.AsyncExitStack() as exit_stack:
        services: dict[str, RunningService] = {}
        for name, definition in (
            ("customers", CUSTOMERS),
            ("tasks", TASKS),
            ("collaboration", COLLABORATION),
            ("metrics", METRICS),
        ):
            services[name] = await exit_stack.enter_async_context(
                running_service(
                    definition,
                    database_url=database_url,
                    nats_url=nats_url,
                    namespace=namespace,
                    schema=f"{schema}_{name}",
                    clock=clock,
                    on_port=True,
                    # Metrics' change feed (behind /changes) is a worker; the others' timers
                    # fire only when the test says so, the clock being manual.
                    poll_timers=name == "metrics",
                )
            )
        upstreams = {name: s.base_url for name, s in services.items() if s.base_url}
        console = create_console_app(ConsoleSettings(console_upstreams=upstreams), clock=clock)
        await exit_stack.enter_async_context(console.router.lifespan_context(console))
        base_url = await exit_stack.enter_async_context(serving(console))
        yield Stack(base_url, services, clock)
        for running in services.values():
            # See the metrics dashboard's browser test: nothing is left to drain.
            running.runtime.nats.options["drain_timeout"] = 0.5


@dataclass
class Browsing:
    """People in their own browser contexts; screenshots, page errors and requests are
    collected (the photos and files a screen shows are blob: and data: URLs of its own)."""

    browser: Browser
    base_url: str
    folder: Path
    step: int = 0
    errors: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    requests: RequestLog = field(init=False)

    def __post_init__(self) -> None:
        self.requests = RequestLog(allowed=(self.base_url, "blob:", "data:"))

    async def person(self, person_id: str, *, phone: bool, start: str = "/") -> Page:
        context = await self.browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            locale="zh-CN",
            timezone_id=BROWSER_ZONE,
            is_mobile=phone,
            has_touch=phone,
        )
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{person_id}: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"{person_id}: {message.text} ({message.location['url']})")
                if message.type == "error" and "status of 4" not in message.text
                else None
            ),
        )
        self.requests.watch(page)
        await page.goto(self.base_url + start)
        if not self.pages:  # the person picker, once
            await expect(page.locator("[data-person-id]").first).to_be_visible()
            await self.snap(page, "sign-in")
        await page.locator(f"[data-person-id='{person_id}']").click()
        await expect(page.locator("#who")).to_be_visible()
        self.pages.append(page)
        return page

    async def snap(self, page: Page, name: str) -> None:
        """Screenshots at phone and desk width; at phone width nothing scrolls sideways."""
        self.step += 1
        original = page.viewport_size
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            await page.set_viewport_size(size)
            if label == "phone":
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{name}: {width} px wide at phone width"
            await page.screenshot(
                path=str(self.folder / f"{self.step:02d}-{name}-{label}.png"), full_page=True
            )
        if original:
            await page.set_viewport_size(original)

    async def go(self, page: Page, path: str) -> None:
        """Follow an in-app link by address, as a chat message's link would be opened."""
        await page.goto(self.base_url + path)
        await expect(page.locator("#who")).to_be_visible()


@pytest.fixture
async def browsing(stack: Stack) -> AsyncIterator[Browsing]:
    async with chromium("the console's browser test") as browser:
        # This run's screenshots, numbered by step: an earlier run's are removed.
        session = Browsing(browser, stack.base_url, artifacts("console", fresh=True))
        yield session
        for page in session.pages:
            missing = await page.evaluate("[...window.__missingTexts]")
            assert missing == [], f"texts missing from the dictionaries: {missing}"
        assert session.errors == [], session.errors
        outside = session.requests.outside
        assert outside == [], f"requests outside the console: {outside}"


async def expect_evidence_photo(page: Page, photo: dict[str, Any]) -> None:
    """The task screen shows the reviewer's copy of a photo, with its capture time and device."""
    item = page.locator(f"#evidence li[data-sha256='{photo['sha256']}']")
    await expect(item.locator("[data-role=capture-time]")).to_have_text(
        shown_time(photo["capture_time"])
    )
    await expect(item.locator("[data-role=device]")).to_have_text(photo["device_id"])
    image = item.locator("img[data-role=evidence-photo]")
    await expect(image).to_be_visible()
    await expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    # Decoded: the watermarked copy keeps the photo's size.
    size = await image.evaluate("el => el.decode().then(() => [el.naturalWidth, el.naturalHeight])")
    assert size == [640, 480]


def shown_time(iso: str) -> str:
    """How the console shows a time: the org's wall clock, 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


async def seed_customers(stack: Stack) -> tuple[str, str]:
    """The rep's customers: one to work on, one not contacted for 10 days (stale)."""
    main = await stack.call(
        "customers",
        "POST",
        "/customers",
        REP,
        expect_status=201,
        json={"name": CUSTOMER_NAME, "tier": "A", "estimated_contribution": "1200000.00"},
    )
    quiet = await stack.call(
        "customers",
        "POST",
        "/customers",
        REP,
        expect_status=201,
        json={"name": QUIET_CUSTOMER, "tier": "B", "estimated_contribution": "300000.00"},
    )
    await stack.call(
        "customers",
        "POST",
        f"/customers/{quiet['customer_id']}/follow-ups",
        REP,
        expect_status=201,
        json={
            "kind": "call",
            "contacted_at": (MORNING - timedelta(days=10)).isoformat(),
            "notes": "电话沟通",
        },
    )
    await stack.services["customers"].fire_due_timers()  # more than 7 days: stale

    async def known_downstream() -> bool:
        counts = [
            await stack.services[name].runtime.pool.fetchval("SELECT count(*) FROM known_customers")
            for name in ("tasks", "collaboration")
        ]
        return counts == [2, 2]

    await eventually(known_downstream)
    return main["customer_id"], quiet["customer_id"]


async def test_each_role_walks_its_main_path(stack: Stack, browsing: Browsing) -> None:
    customer_id, quiet_id = await seed_customers(stack)

    # ---- the rep, on a phone: customers by last contact, the stale one highlighted
    rep = await browsing.person(REP, phone=True)
    await expect(rep).to_have_url(re.compile(r"/customers$"))
    listed = await stack.call("customers", "GET", "/customers", REP)
    rows = rep.locator("#customer-list > li[data-customer-id]")
    await expect(rows).to_have_count(len(listed))
    assert await rows.evaluate_all("els => els.map(e => e.dataset.customerId)") == [
        c["customer_id"] for c in listed
    ]
    # Never contacted counts as the longest without contact; then the stale one.
    assert [c["customer_id"] for c in listed] == [customer_id, quiet_id]
    assert [c["stale"] for c in listed] == [False, True]
    await expect(
        rep.locator(f"li[data-customer-id='{customer_id}'] [data-role=last-contact]")
    ).to_contain_text("从未接触")
    quiet_row = rep.locator(f"li[data-customer-id='{quiet_id}']")
    await expect(quiet_row).to_have_class(re.compile(r"\bis-stale\b"))
    await expect(quiet_row.locator(".badge.stale")).to_have_text("停滞")
    await browsing.snap(rep, "rep-customers")

    # ---- one customer: follow-up, decision state, next action, the progress report
    await rep.locator(f"li[data-customer-id='{customer_id}'] a").click()
    await expect(rep).to_have_url(re.compile(f"/customers/{customer_id}$"))
    follow_up = rep.locator("form[data-key=follow-up]")
    # The browser lives in Berlin; the time typed is the org's (Shanghai) wall clock.
    await follow_up.locator("[name=contacted_at]").fill("2026-03-10T09:00")
    await follow_up.locator("[name=notes]").fill("张总认可方案,要求下周到厂看产线")
    await follow_up.locator("[name=competitor_notes]").fill("竞品报价低 8%")
    await follow_up.locator("button[type=submit]").click()
    await expect(rep.locator("dd[data-role=last-contact]")).to_contain_text("2026-03-10 09:00")
    customer = await stack.call("customers", "GET", f"/customers/{customer_id}", REP)
    assert shown_time(customer["last_contact_at"]) == "2026-03-10 09:00"
    assert customer["last_contact_at"].startswith("2026-03-10T01:00:00")  # 09:00 +08:00

    decision = rep.locator("form[data-key=decision-state]")
    await decision.locator("[name=state]").select_option("intent_confirmed")
    await decision.locator("button[type=submit]").click()
    await expect(rep.locator("dd[data-role=decision-state]")).to_have_text("已明确采购意向")
    customer = await stack.call("customers", "GET", f"/customers/{customer_id}", REP)
    assert customer["decision_state"] == "intent_confirmed"
    assert (customer["negotiation_status"], customer["negotiation_manager_id"]) == (
        "requested",
        MANAGER,
    )

    next_action = rep.locator("form[data-key=next-action]")
    await next_action.locator("[name=kind]").select_option("schedule_factory_visit")
    await next_action.locator("[name=description]").fill("约张总周四到厂看产线")
    await next_action.locator("[name=due_at]").fill("2026-03-12T14:00")
    await next_action.locator("button[type=submit]").click()
    await expect(rep.locator("dd[data-role=next-action]")).to_contain_text("2026-03-12 14:00")
    customer = await stack.call("customers", "GET", f"/customers/{customer_id}", REP)
    assert (customer["next_action_kind"], customer["next_action_status"]) == (
        "schedule_factory_visit",
        "open",
    )
    await browsing.snap(rep, "rep-customer-updated")

    # The one-form report: the counter counts characters live; the server refuses 51, and
    # its reason shows next to the field, in Chinese, with the text still there.
    report = rep.locator("form[data-key=progress-report]")
    await report.locator("[name=key_action]").select_option("quoted")
    await report.locator("[name=obstacle]").select_option("competitor_price_pressure")
    too_long = ("请协调技术部在周三前确认空压机参数并给出竞品对比" * 3)[:51]  # 51 characters
    support = report.locator("[name=support_needed]")
    await support.fill(too_long)
    await expect(rep.locator("#support-counter")).to_have_text("51/50 字")
    await expect(rep.locator("#support-counter")).to_have_class(re.compile(r"\bover\b"))
    await report.locator("button[type=submit]").click()
    support_error = report.locator(".field:has([name=support_needed]) .field-error")
    await expect(support_error).to_have_text("共 51 个字,最多 50 个字")
    await expect(support).to_have_value(too_long)
    await expect(support).to_have_attribute("aria-invalid", "true")
    await expect(report.locator("[name=key_action]")).to_have_value("quoted")
    await browsing.snap(rep, "rep-report-refused")
    await support.fill("请协调技术部周三前确认参数")
    await report.locator("button[type=submit]").click()
    await expect(report.locator(".result")).to_contain_text("李娜")
    await expect(support_error).to_be_hidden()
    (filed,) = await stack.call(
        "customers", "GET", f"/customers/{customer_id}/progress-reports", REP
    )
    assert (filed["answer"], filed["supervisor_id"]) == (None, LEAD)
    filed_item = rep.locator(f"#progress-reports li[data-report-id='{filed['report_id']}']")
    await expect(filed_item.locator("[data-role=answer]")).to_have_text("待答复")
    await expect(filed_item.locator("[data-role=support-needed]")).to_have_text(
        filed["support_needed"]
    )

    # ---- today's tasks: plan a visit and a quote for this morning
    await rep.locator("#nav a[href='/tasks']").click()
    plan = rep.locator("form[data-key=plan-task]")
    for kind, title, at in (
        ("visit", "拜访张总,看产线", "2026-03-10T10:00"),
        ("quote", "第二轮报价", "2026-03-10T11:00"),
        ("proposal", "发送分期方案", "2026-03-10T14:00"),
    ):
        await plan.locator("[name=customer_id]").select_option(customer_id)
        await plan.locator("[name=kind]").select_option(kind)
        await plan.locator("[name=title]").fill(title)
        await plan.locator("[name=scheduled_at]").fill(at)
        await plan.locator("button[type=submit]").click()
        await expect(rep.locator("#task-list li", has_text=title)).to_be_visible()
    tasks = await stack.call("tasks", "GET", "/tasks", REP)
    visit, quote, proposal = sorted(tasks, key=lambda task: task["scheduled_at"])
    assert (visit["kind"], quote["kind"], proposal["kind"]) == ("visit", "quote", "proposal")
    assert shown_time(visit["scheduled_at"]) == "2026-03-10 10:00"
    await expect(rep.locator(f"li[data-task-id='{visit['task_id']}'] .time")).to_have_text("10:00")
    await browsing.snap(rep, "rep-tasks-planned")

    # The visit: a photo taken on site five minutes after the scheduled time.
    await rep.locator(f"li[data-task-id='{visit['task_id']}'] a").click()
    await expect(rep).to_have_url(re.compile(f"/tasks/{visit['task_id']}$"))
    camera = rep.locator("#photo-camera")
    await expect(camera).to_have_attribute("capture", "environment")
    await expect(camera).to_have_attribute("accept", "image/*")
    await camera.set_input_files(
        {
            "name": "visit.jpg",
            "mimeType": "image/jpeg",
            # A real JPEG whose EXIF says when (org-local wall time) and with what it was taken.
            "buffer": evidence_files.photo(
                taken="2026:03:10 10:05:00", serial="SN-CONSOLE-01", size=(640, 480)
            ),
        }
    )
    await expect(rep.locator("img.preview")).to_be_visible()
    await browsing.snap(rep, "rep-visit-photo")
    # The reviewer's copy the screen fetches is recorded on its way (CDP keeps no body of it).
    copies: list[tuple[str, str, bytes]] = []

    async def record_copy(route: Route) -> None:
        answer = await route.fetch()
        body = await answer.body()
        copies.append((route.request.url, route.request.headers.get("authorization", ""), body))
        await route.fulfill(response=answer, body=body)

    copy_route = re.compile(r"/api/tasks/tasks/[^/]+/evidence/[0-9a-f]+$")
    await rep.route(copy_route, record_copy)
    await rep.locator(f"form[data-key='submit-{visit['task_id']}'] button[type=submit]").click()
    await expect(rep.locator("[data-status]").first).to_have_attribute("data-status", "submitted")
    submitted = await stack.call("tasks", "GET", f"/tasks/{visit['task_id']}", REP)
    assert (submitted["status"], submitted["evidence_compliant"]) == ("submitted", True)
    (photo,) = await stack.call("tasks", "GET", f"/tasks/{visit['task_id']}/evidence", REP)
    assert (photo["kind"], photo["device_id"]) == ("photo", "SN-CONSOLE-01")
    assert shown_time(photo["capture_time"]) == "2026-03-10 10:05"  # the EXIF time, org zone
    await expect_evidence_photo(rep, photo)
    await rep.unroute(copy_route, record_copy)
    # What the screen shows is the service's reviewer's copy, asked for with the token.
    tasks = stack.services["tasks"]
    reviewer_copy = await tasks.client.get(photo["copy_path"], headers=tasks.auth(REP))
    signed_in = await rep.evaluate("localStorage.getItem('salesops.console.token')")
    assert copies == [
        (
            f"{stack.base_url}/api/tasks{photo['copy_path']}",
            f"Bearer {signed_in}",
            reviewer_copy.content,
        )
    ]
    await browsing.snap(rep, "rep-visit-evidence")

    # The proposal: a real PDF, whose name must hold the customer and the day; the
    # server's reasons show under the file input, in Chinese, and the choice can be fixed.
    await browsing.go(rep, f"/tasks/{proposal['task_id']}")
    attach = rep.locator("input[type=file][accept='application/pdf']")
    await attach.set_input_files(
        {"name": "方案.pdf", "mimeType": "application/pdf", "buffer": evidence_files.pdf()}
    )
    proposal_form = rep.locator(f"form[data-key='submit-{proposal['task_id']}']")
    await proposal_form.locator("button[type=submit]").click()
    file_error = proposal_form.locator(".field:has(input[type=file]) .field-error")
    await expect(file_error).to_contain_text(f"文件名须包含客户名称“{CUSTOMER_NAME}”")
    await expect(file_error).to_contain_text("文件名须包含任务日期,写作 20260310 或 2026-03-10")
    await browsing.snap(rep, "rep-proposal-refused")
    proposal_pdf = evidence_files.pdf()
    await attach.set_input_files(
        {
            "name": f"{CUSTOMER_NAME}-分期方案-20260310.pdf",
            "mimeType": "application/pdf",
            "buffer": proposal_pdf,
        }
    )
    await proposal_form.locator("button[type=submit]").click()
    await expect(rep.locator("[data-status]").first).to_have_attribute("data-status", "submitted")
    sent = await stack.call("tasks", "GET", f"/tasks/{proposal['task_id']}", REP)
    assert (sent["status"], sent["evidence_compliant"]) == ("submitted", True)
    (kept,) = await stack.call("tasks", "GET", f"/tasks/{proposal['task_id']}/evidence", REP)
    assert (kept["kind"], kept["file_name"]) == ("pdf", f"{CUSTOMER_NAME}-分期方案-20260310.pdf")
    kept_item = rep.locator(f"#evidence li[data-sha256='{kept['sha256']}']")
    await expect(kept_item.locator(".file-name")).to_have_text(kept["file_name"])
    async with rep.expect_download() as saving:
        await kept_item.locator("[data-role=download-pdf]").click()
    saved = await saving.value
    assert saved.suggested_filename == kept["file_name"]
    assert await asyncio.to_thread(Path(await saved.path()).read_bytes) == proposal_pdf

    # The quote: the concession shows live and warns above 12% before anything is sent.
    await browsing.go(rep, f"/tasks/{quote['task_id']}")
    quote_form = rep.locator(f"form[data-key='submit-{quote['task_id']}']")
    await quote_form.locator("[name=target_price]").fill("100000")
    await quote_form.locator("[name=deal_price]").fill("85500")
    await expect(rep.locator("#concession")).to_have_text("14.50%")
    await expect(rep.locator("#concession-warning")).to_contain_text("超过 12%")
    await quote_form.locator("[name=deal_price]").fill("88000")
    await expect(rep.locator("#concession")).to_have_text("12.00%")
    await expect(rep.locator("#concession-warning")).to_be_hidden()  # 12% itself is allowed
    await quote_form.locator("[name=deal_price]").fill("85000")
    await expect(rep.locator("#concession")).to_have_text("15.00%")
    # In English the screen says the same, and nothing typed is lost on the way.
    await rep.locator("#lang").click()
    await expect(rep.locator("#concession-warning")).to_contain_text("is over 12%")
    await expect(quote_form.locator("[name=deal_price]")).to_have_value("85000")
    await browsing.snap(rep, "rep-quote-warning-en")
    await rep.locator("#lang").click()
    await expect(rep.locator("#concession-warning")).to_contain_text("超过 12%")
    await browsing.snap(rep, "rep-quote-warning")
    assert await rep.locator("#concession-warning").is_visible()
    await quote_form.locator("button[type=submit]").click()
    await expect(rep.locator("[data-status]").first).to_have_attribute("data-status", "locked")
    locked = await stack.call("tasks", "GET", f"/tasks/{quote['task_id']}", REP)
    assert (locked["status"], locked["concession_pct"]) == ("locked", "15.00")
    await expect(rep.locator("dd[data-role=concession]")).to_have_text("15.00%")

    # ---- the director follows the chat message's link, then decides from the queue
    link = record_link(
        ConcessionExceeded(
            task_id=quote["task_id"],
            customer_id=customer_id,
            rep_id=REP,
            target_price=Decimal("100000"),
            deal_price=Decimal("85000"),
            concession_pct=Decimal("15.00"),
            threshold_pct=Decimal("12"),
        ),
        stack.base_url,
    )
    assert link is not None
    director = await browsing.person(DIRECTOR, phone=False, start=link.removeprefix(stack.base_url))
    await expect(director).to_have_url(link)  # signed in, back on the linked screen
    await expect(director.locator("dd[data-role=concession]")).to_have_text("15.00%")
    await director.locator("#nav a[href='/approvals']").click()
    queued = director.locator(f"#approval-queue li[data-task-id='{quote['task_id']}']")
    await expect(queued.locator("[data-role=concession]")).to_have_text("15.00%")
    await expect(queued).to_contain_text(CUSTOMER_NAME)
    await expect(queued).to_contain_text("张伟")
    await queued.locator("[name=reason]").fill("战略客户,首单让利")
    await browsing.snap(director, "director-approval-queue")
    await queued.locator("button[value=approve]").click()
    await expect(director.locator("#approval-queue .empty")).to_be_visible()
    decided = await stack.call("tasks", "GET", f"/tasks/{quote['task_id']}", DIRECTOR)
    assert (decided["status"], decided["decided_by"], decided["decision_reason"]) == (
        "approved",
        DIRECTOR,
        "战略客户,首单让利",
    )

    # ---- the director splits March's target; coverage shows against it
    await director.locator("#nav a[href='/targets']").click()
    before = await stack.call("customers", "GET", "/targets/2026-03", DIRECTOR)
    assert next(line for line in before if line["node_id"] == "hq")["target"] is None
    await expect(director.locator("#coverage tr[data-node-id=hq] td").first).to_have_text("—")
    split = director.locator("form[data-key='allocate-2026-03']")
    await split.locator("[name=parent_id]").select_option("hq")
    await split.locator("[name=parent_amount]").fill("2000000")
    await split.locator("[name='shares[0].amount']").fill("1500000")
    await split.locator("[name='shares[1].amount']").fill("400000")
    await expect(split.locator(".sum")).to_contain_text("差额 100,000")
    await split.locator("[name=rationale]").fill("华东客户池更大")
    await split.locator("button[type=submit]").click()
    shares_error = split.locator("fieldset .field-error").last
    await expect(shares_error).to_have_text("各份合计 1,900,000,比上级目标 2,000,000少 100,000")
    await expect(split.locator("[name=rationale]")).to_have_value("华东客户池更大")
    await split.locator("[name='shares[1].amount']").fill("500000")
    await split.locator("button[type=submit]").click()
    # 1,500,000 of customers' contributions against HQ's 2,000,000.
    await expect(
        director.locator("#coverage tr[data-node-id=hq] [data-role=coverage]")
    ).to_have_text("75.00%")
    coverage = await stack.call("customers", "GET", "/targets/2026-03", DIRECTOR)
    for line in coverage:
        row = director.locator(f"#coverage tr[data-node-id='{line['node_id']}']")
        pct = line["coverage_pct"]
        await expect(row.locator("[data-role=coverage]")).to_have_text(
            "—" if pct is None else f"{pct}%"
        )
    hq = next(line for line in coverage if line["node_id"] == "hq")
    assert (hq["target"], hq["covered"], hq["coverage_pct"]) == ("2000000", "1500000.00", "75.00")
    await browsing.snap(director, "director-targets")

    # ---- the group lead reviews the visit's photo (the reviewer's copy) and answers the
    # progress report; the manager confirms the join
    lead = await browsing.person(LEAD, phone=True, start=f"/tasks/{visit['task_id']}")
    await expect_evidence_photo(lead, photo)
    await lead.locator("#nav a[href='/reports']").click()
    (todo,) = await stack.call("customers", "GET", "/progress-reports/todo", LEAD)
    item = lead.locator(f"#report-todo li[data-report-id='{todo['report_id']}']")
    await expect(item.locator("[data-role=support-needed]")).to_have_text(
        "请协调技术部周三前确认参数"
    )
    await expect(item).to_contain_text("已报价")
    await expect(item).to_contain_text("竞品压价")
    await browsing.snap(lead, "lead-report-todo")
    await item.locator("[name=note]").fill("已约技术部周二下午开会")
    await item.locator("button[value=coordinated]").click()
    await expect(lead.locator("#report-todo .empty")).to_be_visible()
    assert await stack.call("customers", "GET", "/progress-reports/todo", LEAD) == []

    # The rep sees the answer on the customer's screen, note and all.
    (answered,) = await stack.call(
        "customers", "GET", f"/customers/{customer_id}/progress-reports", REP
    )
    assert (answered["answer"], answered["note"], answered["answered_by"]) == (
        "coordinated",
        "已约技术部周二下午开会",
        LEAD,
    )
    # From the quote's screen (still open on the rep's phone) to its customer, in the app.
    await rep.locator(f"dd a[href='/customers/{customer_id}']").click()
    shown = rep.locator(f"#progress-reports li[data-report-id='{answered['report_id']}']")
    await expect(shown).to_have_attribute("data-answer", "coordinated")
    await expect(shown.locator("[data-role=answer]")).to_have_text("已协调")
    await expect(shown.locator("[data-role=answer-note]")).to_have_text(
        f"答复说明: {answered['note']}"
    )
    await expect(shown).to_contain_text(f"李娜 于 {shown_time(answered['answered_at'])} 答复")
    await browsing.snap(rep, "rep-report-answered")

    # The lead's team customers, flags and all; the stale filter leaves the stale one.
    await lead.locator("#nav a[href='/customers']").click()
    team = await stack.call("customers", "GET", "/customers", LEAD)
    await expect(lead.locator("#customer-list > li[data-customer-id]")).to_have_count(len(team))
    await expect(lead.locator(f"li[data-customer-id='{customer_id}']")).to_contain_text("张伟")
    await expect(lead.locator(".todo-line")).to_contain_text("待答复进度报告 0 条")
    await lead.locator(".chips button", has_text="停滞").click()
    await expect(lead).to_have_url(re.compile(r"flag=stale"))
    await expect(lead.locator("#customer-list > li[data-customer-id]")).to_have_count(1)
    await expect(lead.locator(f"li[data-customer-id='{quiet_id}']")).to_have_class(
        re.compile(r"\bis-stale\b")
    )
    await browsing.snap(lead, "lead-team-customers")

    manager = await browsing.person(MANAGER, phone=False, start="/negotiations")
    join = manager.locator(f"#negotiation-joins li[data-customer-id='{customer_id}']")
    await expect(join).to_contain_text(CUSTOMER_NAME)
    await expect(join.locator(".countdown")).to_contain_text("剩余")
    await browsing.snap(manager, "manager-negotiation-join")
    await join.locator("button[type=submit]").click()
    await expect(manager.locator("#negotiation-joins .empty")).to_be_visible()
    confirmed = await stack.call("customers", "GET", f"/customers/{customer_id}", MANAGER)
    assert confirmed["negotiation_status"] == "confirmed"

    # ---- the rep requests samples, ticking two documents owned by two tech groups
    await rep.locator("#nav a[href='/tickets']").click()
    await rep.locator("a[href='/tickets/new']").click()
    request = rep.locator("form[data-key=new-ticket]")
    await request.locator("[name=customer_id]").select_option(customer_id)
    await request.locator("[name=product]").fill("HY-75 空压机")
    await request.locator("[name=quantity]").fill("2")
    await request.locator("label.check", has_text="CE认证报告").locator("input").check()
    await request.locator("label.check", has_text="3D安装图").locator("input").check()
    await request.locator("[name=note]").fill("客户周五要")
    await browsing.snap(rep, "rep-sample-request")
    await request.locator("button[type=submit]").click()
    await expect(rep).to_have_url(re.compile(r"/tickets/tkt-[0-9a-f]+$"))
    ticket_id = rep.url.rsplit("/", 1)[1]
    ticket = await stack.call("collaboration", "GET", f"/tickets/{ticket_id}", REP)
    assert sorted(s["team_id"] for s in ticket["stages"]) == ["tech-electrical", "tech-structural"]
    assert ticket["document_types"] == ["ce_certification_report", "installation_drawing_3d"]
    due = shown_time(ticket["stages"][0]["sla_due_at"])
    assert due == "2026-03-10 11:30"  # 2 h from 09:30 in the org's zone
    clock_text = rep.locator("li[data-team='tech-electrical'] .countdown")
    await expect(clock_text).to_have_text(re.compile(r"^剩余 1:59:\d\d$"))
    # The countdown ticks by itself, from the due time and the server's clock.
    first = await clock_text.text_content()
    await expect(clock_text).not_to_have_text(first or "", timeout=3000)
    assert ticket["customer_name"] == CUSTOMER_NAME
    await expect(rep.locator("dd[data-role=customer]")).to_have_text(CUSTOMER_NAME)
    await browsing.snap(rep, "rep-ticket-submitted")

    # ---- logistics finds it on the SLA board; stocking waits for both groups
    logistics = await browsing.person(LOGISTICS, phone=False)
    await logistics.locator("#nav a[href='/board']").click()
    board = await stack.call("collaboration", "GET", "/sla-board", LOGISTICS)
    board_rows = logistics.locator("#sla-board tbody tr")
    await expect(board_rows).to_have_count(len(board))
    assert {(b["ticket_id"], b["team_id"], b["status"]) for b in board} == {
        (ticket_id, "tech-electrical", "on_track"),
        (ticket_id, "tech-structural", "on_track"),
    }
    await expect(board_rows.first.locator(".countdown")).to_have_text(re.compile(r"^剩余 1:5"))
    await expect(board_rows.first).to_contain_text("罗斌")
    await browsing.snap(logistics, "logistics-sla-board")
    await board_rows.first.locator("a").click()
    await expect(logistics.locator("dd[data-role=customer]")).to_have_text(CUSTOMER_NAME)
    stocking = logistics.locator("#start-stocking")
    await expect(stocking).to_be_disabled()
    reason = logistics.locator("[data-role=stocking-reason]")
    await expect(reason).to_contain_text("电气与认证组 未答复")
    await expect(reason).to_contain_text("结构与安装组 未答复")
    await browsing.snap(logistics, "logistics-stocking-blocked")

    # ---- the electrical engineer needs more information first (missing items required)
    electrical = await browsing.person(ELECTRICAL_ENGINEER, phone=True)
    await expect(electrical).to_have_url(re.compile(r"/tickets$"))
    queued_ticket = electrical.locator(f"#ticket-list li[data-ticket-id='{ticket_id}']")
    await expect(queued_ticket.locator("[data-role=customer]")).to_have_text(CUSTOMER_NAME)
    await browsing.snap(electrical, "tech-queue")
    await queued_ticket.locator("a").click()
    answer = electrical.locator(f"form[data-key='answer-{ticket_id}-tech-electrical']")
    await answer.locator("input[value=needs_info]").check()
    await answer.locator("button[type=submit]").click()
    missing_error = answer.locator(".field:has([name=missing_items]) .field-error")
    await expect(missing_error).to_have_text("请至少填写一项缺失资料")
    await answer.locator("[name=missing_items]").fill("电压规格\n安装现场照片")
    await browsing.snap(electrical, "tech-needs-info")
    await answer.locator("button[type=submit]").click()
    await expect(
        electrical.locator("li[data-team='tech-electrical'] .countdown.paused")
    ).to_be_visible()
    ticket = await stack.call("collaboration", "GET", f"/tickets/{ticket_id}", REP)
    assert ticket["status"] == "waiting_for_sales"
    asked = next(s for s in ticket["stages"] if s["team_id"] == "tech-electrical")
    assert asked["missing_items"] == ["电压规格", "安装现场照片"]
    waiting_stage = "li[data-team='tech-electrical'] [data-role=missing-items] li"
    await expect(electrical.locator(waiting_stage)).to_have_text(asked["missing_items"])
    # The logistics page open on the ticket follows the change stream.
    await expect(logistics.locator(waiting_stage)).to_have_text(asked["missing_items"])

    # ---- the rep supplies it from the ticket's page (a chat message links there)
    await browsing.go(rep, f"/tickets/{ticket_id}")
    info = rep.locator(f"form[data-key='info-{ticket_id}-tech-electrical']")
    await expect(info.locator("[data-role=missing-items] li")).to_have_text(asked["missing_items"])
    await info.locator("[name=info]").fill("380V 三相,现场照片已发邮件")
    # The sign-in runs out while typing: the page stays, with the text; signing in again in
    # another tab brings this one back, and the same submit goes through.
    await rep.evaluate("localStorage.setItem('salesops.console.token', 'expired')")
    await info.locator("button[type=submit]").click()
    await expect(info.locator(".form-error")).to_contain_text("登录已过期")
    await expect(rep.locator("#signed-out")).to_be_visible()
    await expect(info.locator("[name=info]")).to_have_value("380V 三相,现场照片已发邮件")
    await browsing.snap(rep, "rep-signed-out-keeps-text")
    again = await rep.context.new_page()
    await again.goto(f"{stack.base_url}/signin?next=/tickets/{ticket_id}")
    await again.locator(f"[data-person-id='{REP}']").click()
    await expect(again.locator("#who")).to_be_visible()
    await again.close()
    await expect(rep.locator("#signed-out")).to_be_hidden()
    await info.locator("button[type=submit]").click()
    await expect(info).to_have_count(0)
    await expect(
        rep.locator("li[data-team='tech-electrical'] .countdown:not(.paused)")
    ).to_be_visible()

    # ---- both groups answer: provided
    await browsing.go(electrical, f"/tickets/{ticket_id}")
    await answer.locator("button[type=submit]").click()  # "provided" is the default choice
    await expect(electrical.locator("li[data-team='tech-electrical'].done")).to_be_visible()
    structural = await browsing.person(STRUCTURAL_ENGINEER, phone=False)
    await structural.locator(f"#ticket-list li[data-ticket-id='{ticket_id}'] a").click()
    await browsing.snap(structural, "tech-answer")
    await structural.locator(
        f"form[data-key='answer-{ticket_id}-tech-structural'] button[type=submit]"
    ).click()
    await expect(structural.locator("li[data-team='tech-structural'].done")).to_be_visible()
    ticket = await stack.call("collaboration", "GET", f"/tickets/{ticket_id}", REP)
    assert ticket["status"] == "documents_complete"

    # ---- logistics: the open ticket page follows the change stream (no reload): stocking
    # is possible now; then ships
    await expect(stocking).to_be_enabled()
    await expect(reason).to_have_count(0)
    await stocking.click()
    await logistics.locator("[name=tracking]").fill("SF1234567890")
    await browsing.snap(logistics, "logistics-ship")
    await logistics.locator("#ship").click()
    await expect(logistics.locator("[data-status]").first).to_have_attribute(
        "data-status", "shipped"
    )

    # ---- the rep confirms receipt and rates 4 stars
    await browsing.go(rep, f"/tickets/{ticket_id}")
    await rep.locator("#confirm-receipt").click()
    await rep.locator("label.star:has(input[value='4'])").click()
    await rep.locator("[name=comment]").fill("响应及时")
    await browsing.snap(rep, "rep-rating")
    await rep.locator("#rate").click()
    await expect(rep.locator("dd[data-role=stars]")).to_have_text("★★★★☆ (4)")
    ticket = await stack.call("collaboration", "GET", f"/tickets/{ticket_id}", REP)
    assert (ticket["status"], ticket["stars"]) == ("rated", 4)

    # ---- the dashboard shows the new figures, as the metrics API computes them
    async def caught_up() -> bool:
        activity = await stack.call("metrics", "GET", "/activity", DIRECTOR)
        rated = {r["team_id"] for r in activity["department_ratings"]}
        return activity["concessions"]["approved"] == 1 and rated == {
            "tech-electrical",
            "tech-structural",
            "logistics",
        }

    await eventually(caught_up)
    await browsing.go(director, "/dashboard")
    indicators = await stack.call("metrics", "GET", "/indicators", DIRECTOR)
    activity = await stack.call("metrics", "GET", "/activity", DIRECTOR)
    assert indicators["period"] == "2026-03"
    await expect(director.locator("#period")).to_contain_text("2026-03")
    for figure in indicators["figures"] + [
        activity[name]
        for name in (
            "next_actions_on_time",
            "daily_report_validity",
            "support_answered_on_time",
            "a_tier_follow_ups_per_customer",
        )
    ]:
        tile = director.locator(f".tile[data-measure='{figure['measure']}']")
        value = figure["value"]
        text = (
            "无数据" if value is None else value if figure["shape"] == "per_record" else f"{value}%"
        )
        await expect(tile.locator(".tile-value")).to_have_text(text)
        await expect(tile.locator("[data-role=sums]")).to_have_text(
            f"{Decimal(figure['numerator']):,} / {Decimal(figure['denominator']):,}"
        )
    # The morning's work shows: the visit's photo counts for the trace rate, the quote's
    # concession was approved, and each department that owned a stage got its 4 stars.
    trace = next(f for f in indicators["figures"] if f["measure"] == "trace")
    assert Decimal(trace["numerator"]) >= 1
    concessions = activity["concessions"]
    assert (concessions["exceeded"], concessions["approved"], concessions["pending"]) == (1, 1, 0)
    for key, count in concessions.items():
        await expect(director.locator(f"[data-role=concessions-{key}] strong")).to_have_text(
            str(count)
        )
    for rating in activity["department_ratings"]:
        row = director.locator(f"#ratings tr[data-team='{rating['team_id']}']")
        await expect(row.locator("[data-role=ratings]")).to_have_text(str(rating["ratings"]))
        await expect(row.locator("[data-role=mean-stars]")).to_have_text(rating["mean_stars"])
        assert Decimal(rating["mean_stars"]) == 4
    assert activity["sample_delivery"]["count"] == 1
    await browsing.snap(director, "dashboard")

    # ---- every screen of every role, in English at phone width: each loads its data, no
    # failure shown, nothing scrolls sideways (the texts and errors are checked at the end)
    for page in browsing.pages:
        await page.set_viewport_size(PHONE)
        await page.locator("#lang").click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        hrefs = await page.locator("#nav a").evaluate_all("els => els.map(e => e.pathname)")
        assert {"/board", "/dashboard"} <= set(hrefs)
        for href in hrefs:
            await page.locator(f"#nav a[href='{href}']").click()
            await expect(page.locator(f"#view[data-ready='{href}']")).to_be_attached()
            assert await page.locator("#view .banner[role=alert]").count() == 0, href
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{href}: {width} px wide"
    await browsing.snap(browsing.pages[0], "rep-dashboard-en")

    # ---- the live concession is the tasks service's own figure, rounding included
    pairs = [
        ("100000", "87995"),  # 12.005 -> 12.01 (half up): over the threshold
        ("100000", "88004"),  # 11.996 -> 12.00: not over
        ("3", "2"),
        ("7", "6.12345"),
        ("1", "1.5"),  # a deal above target: a negative concession
        ("100", "100"),
        ("0.03", "0.02"),
        ("123456789.12", "98765432.10"),
    ]
    shown = await rep.evaluate(
        """async (pairs) => {
            const f = await import("/assets/format.js");
            return pairs.map(([t, d]) => {
                const pct = f.concessionPct(t, d);
                return [pct, f.above(pct, "12")];
            });
        }""",
        pairs,
    )
    expected = []
    for target, deal in pairs:
        pct = concession_pct(Decimal(target), Decimal(deal))
        expected.append([f"{pct:.2f}", pct > 12])
    assert shown == expected
