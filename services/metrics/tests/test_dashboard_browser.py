"""The dashboard in real headless Chromium: it shows the API's numbers and follows them live.

March's events (``march_history``) go through NATS into the service, which serves the page
on a real port; the page is read the way a person sees it, and every number is compared
with what the API answers at that moment. Screenshots at desktop and phone width are kept
in ``SALESOPS_TEST_ARTIFACTS`` (default ``test-artifacts/``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, ViewportSize, expect

from salesops.clock import ManualClock
from salesops.testing.apps import RunningService, running_service
from salesops.testing.browser import DESKTOP, PHONE, RequestLog, artifacts, chromium
from salesops.testing.waiting import eventually
from services.metrics.service import METRICS
from services.metrics.tests.march_history import (
    CHEN,
    DIRECTOR,
    WANG,
    at,
    follow_up,
    march_history,
    publish_all,
)

pytestmark = pytest.mark.integration

INDICATORS = ("penetration", "trace", "on_time")
# Every wait on the page is bounded; the figures arrive in well under a second.
expect.set_options(timeout=10_000)


def shown(figure: dict[str, Any], no_data: str = "无数据") -> str:
    """What the page must print for a figure of the API."""
    if figure["value"] is None:
        return no_data
    return figure["value"] if figure["shape"] == "per_record" else f"{figure['value']}%"


@pytest.fixture
async def served(
    database_url: str,
    nats_url: str,
    namespace: str,
    schema: str,
    clock: ManualClock,
    js: JetStreamContext,
) -> AsyncIterator[RunningService]:
    """The metrics app on a real port with its workers (the change feed behind /changes)."""
    clock.set(at(18))  # "now" is in March 2026: the page's default period is the server's
    async with running_service(
        METRICS,
        database_url=database_url,
        nats_url=nats_url,
        namespace=namespace,
        schema=schema,
        clock=clock,
        on_port=True,
        poll_timers=True,
    ) as service:
        sent = await publish_all(js, namespace, march_history())

        async def all_in() -> bool:
            count = await service.runtime.pool.fetchval("SELECT count(*) FROM inbox")
            return bool(count == len(sent))

        await eventually(all_in)
        yield service
        # nats-py 2.16's fetch takes stale status messages (the 408 of a fetch that timed
        # out on the client first) off a subscription's queue without task_done(), so after
        # ~5 s of idling drain() waits for a queue that never empties, up to the runtime's
        # 10 s shutdown bound. The handlers have acked everything: nothing is left to drain.
        service.runtime.nats.options["drain_timeout"] = 0.5


@pytest.fixture
async def browser(served: RunningService) -> AsyncIterator[Browser]:
    # Asks for ``served`` so the browser (and its open change stream) closes before the server.
    async with chromium("the dashboard's browser test") as launched:
        yield launched


@pytest.fixture
def api(served: RunningService) -> httpx.AsyncClient:
    """The director's view of the API, over the same port as the page."""
    served.client.headers.update(served.auth(DIRECTOR))
    return served.client


def base_url(served: RunningService) -> str:
    assert served.base_url is not None, "running_service(on_port=True) listens on a port"
    return served.base_url


def token(served: RunningService, person_id: str = DIRECTOR) -> str:
    return served.runtime.tokens.mint(person_id)


async def api_json(api: httpx.AsyncClient, path: str) -> Any:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def open_dashboard(
    browser: Browser,
    served: RunningService,
    viewport: ViewportSize,
    requests: RequestLog | None = None,
) -> Page:
    context = await browser.new_context(viewport=viewport, locale="zh-CN")
    page = await context.new_page()
    if requests is not None:
        requests.watch(page)
    await page.goto(f"{base_url(served)}/dashboard/#token={token(served)}")
    return page


async def expect_gauges(page: Page, indicators: dict[str, Any], no_data: str = "无数据") -> None:
    for figure in indicators["figures"]:
        value = page.locator(f"#gauges .gauge-value[data-measure='{figure['measure']}']")
        await expect(value).to_have_attribute("data-node", indicators["node"]["id"])
        await expect(value).to_have_attribute("data-value", figure["value"] or "")
        await expect(value).to_have_attribute("data-health", figure["health"])
        await expect(value).to_have_text(shown(figure, no_data))


async def expect_drill_down(page: Page, api: httpx.AsyncClient, unit: str) -> None:
    for measure in INDICATORS:
        view = await api_json(api, f"/figures/{measure}/drill-down?unit={unit}")
        rows = page.locator("#drill tbody tr[data-node]")
        await expect(rows).to_have_count(len(view["lines"]))
        for i, line in enumerate(view["lines"]):
            row = rows.nth(i)
            await expect(row).to_have_attribute("data-node", line["node"]["id"])
            cell = row.locator(f"[data-measure='{measure}']")
            await expect(cell).to_have_attribute("data-value", line["figure"]["value"] or "")
            await expect(cell).to_have_text(shown(line["figure"]))


async def test_the_dashboard_shows_the_apis_figures_and_follows_them_live(
    served: RunningService,
    browser: Browser,
    api: httpx.AsyncClient,
    js: JetStreamContext,
    namespace: str,
) -> None:
    requests = RequestLog(allowed=(base_url(served),))
    page = await open_dashboard(browser, served, DESKTOP, requests)
    # The token leaves the address bar as soon as the page has kept it.
    await expect(page).not_to_have_url(re.compile("token="))

    # The default period is the one the server answers without ``period``.
    indicators = await api_json(api, "/indicators")
    assert indicators["node"]["id"] == "hq"
    await expect(page.locator("#period")).to_have_value(indicators["period"])
    await expect_gauges(page, indicators)
    trace = next(f for f in indicators["figures"] if f["measure"] == "trace")
    assert (trace["numerator"], trace["denominator"]) == ("3", "5")  # march_history's 3 / 5

    for measure in INDICATORS:
        trend = await api_json(api, f"/figures/{measure}/trend?unit=hq&kind=month&count=6")
        points = page.locator(f"#gauges [data-indicator='{measure}'] .trend-point")
        await expect(points).to_have_count(len(trend["points"]))
        for i, point in enumerate(trend["points"]):
            await expect(points.nth(i)).to_have_attribute("data-period", point["period"])
            await expect(points.nth(i)).to_have_attribute("data-value", point["value"] or "")

    await expect_drill_down(page, api, "hq")

    board = await api_json(api, "/sla-board?unit=hq")
    rows = page.locator("#sla tbody tr")
    await expect(rows).to_have_count(len(board))
    for stage in board:
        row = page.locator(
            f"#sla tr[data-ticket='{stage['ticket_id']}'][data-stage='{stage['stage']}']"
        )
        if stage["overdue"]:
            await expect(row).to_have_class(re.compile(r"\boverdue\b"))
        else:
            await expect(row).not_to_have_class(re.compile(r"\boverdue\b"))
    k2 = page.locator("#sla tr[data-ticket='k2'][data-stage='tech_answer']")
    await expect(k2).to_have_class(re.compile(r"\boverdue\b"))
    yellow = await k2.locator("td").first.evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert yellow == "rgb(255, 243, 191)"

    attention = await api_json(api, "/attention?unit=hq")
    flagged = {(c["customer_id"], c["stale"], c["red_flagged"]) for c in attention}
    assert flagged == {("c2", True, False), ("c3", False, True)}
    await expect_attention(page, attention)

    activity = await api_json(api, "/activity?unit=hq")
    health = await api_json(api, "/health-dashboard?unit=hq")
    for container, view in (("#activity", activity), ("#health", health)):
        for figure in (v for v in view.values() if isinstance(v, dict) and "measure" in v):
            value = page.locator(f"{container} .stat-value[data-measure='{figure['measure']}']")
            await expect(value).to_have_attribute("data-node", "hq")
            await expect(value).to_have_attribute("data-value", figure["value"] or "")
            await expect(value).to_have_text(shown(figure))
    tech = page.locator("#activity [data-duration='tech_answer'] .stat-value")
    await expect(tech).to_have_attribute(
        "data-seconds", str(activity["tech_answer"]["median_seconds"])
    )
    for kind, count in activity["concessions"].items():
        counter = page.locator(f"#activity [data-concessions='{kind}']")
        await expect(counter).to_have_attribute("data-count", str(count))

    await page.screenshot(path=artifacts() / "dashboard-desktop.png", full_page=True)

    # A child of the drill-down opens that unit's figures.
    await page.locator("#drill button[data-nav='region-east']").click()
    await expect(page.locator("#unit")).to_have_value("region-east")
    await expect_gauges(page, await api_json(api, "/indicators?unit=region-east"))
    await expect_drill_down(page, api, "region-east")

    # A rep without trace records has no data, never 0%.
    await page.locator("#unit").select_option(CHEN)
    chen = await api_json(api, f"/indicators?unit={CHEN}")
    assert next(f for f in chen["figures"] if f["measure"] == "trace")["value"] is None
    await expect_gauges(page, chen)
    await expect(page.locator("#gauges .gauge-value[data-measure='trace']")).to_have_text("无数据")

    # One more traced follow-up: the page follows by itself, without a reload.
    await page.locator("#unit").select_option("hq")
    await expect_gauges(page, indicators)
    await expect(page.locator("#live")).to_have_attribute("data-live", "stream")
    await page.evaluate("window.sameDocument = true")
    await publish_all(js, namespace, [follow_up("fu-live", "c2", WANG, 17)])
    gauge = page.locator("#gauges .gauge-value[data-measure='trace']")
    await expect(gauge).to_have_attribute("data-value", "66.67")  # 4 / 6
    after = await api_json(api, "/indicators")
    await expect_gauges(page, after)
    assert next(f for f in after["figures"] if f["measure"] == "trace")["value"] == "66.67"
    # The contact also ended c2's staleness; the attention list followed too.
    await expect_attention(page, await api_json(api, "/attention?unit=hq"))
    assert await page.evaluate("window.sameDocument") is True

    # Chinese by default; one button switches to English.
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.locator("#health-title")).to_have_text("健康度仪表盘")
    tile_title = page.locator("#gauges [data-indicator='trace'] .tile-title")
    await expect(tile_title).to_have_text(trace["title_zh"])
    await page.locator("#lang").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#health-title")).to_have_text("Health dashboard")
    await expect(tile_title).to_have_text(trace["title_en"])
    await page.locator("#unit").select_option(CHEN)
    await expect_gauges(page, chen, no_data="no data")

    phone = await open_dashboard(browser, served, PHONE, requests)
    await expect_gauges(phone, after)
    await expect(phone.locator("#sla tr.overdue")).to_have_count(1)
    # Readable at 375 px: nothing pushes the page sideways (wide tables scroll in place).
    widths = await phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    await phone.screenshot(path=artifacts() / "dashboard-phone.png", full_page=True)

    # Everything came from the service itself: no CDN, no fonts, nothing else.
    assert requests.seen
    assert requests.outside == [], requests.outside


async def expect_attention(page: Page, attention: list[dict[str, Any]]) -> None:
    items = page.locator("#attention li[data-customer]")
    await expect(items).to_have_count(len(attention))
    for customer in attention:
        item = page.locator(f"#attention li[data-customer='{customer['customer_id']}']")
        await expect(item).to_have_attribute("data-stale", str(customer["stale"]).lower())
        await expect(item).to_have_attribute("data-red", str(customer["red_flagged"]).lower())


async def test_without_a_token_the_page_asks_for_one_and_asks_again_after_a_401(
    served: RunningService, browser: Browser, api: httpx.AsyncClient
) -> None:
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(f"{base_url(served)}/dashboard/")
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator("#main")).to_be_hidden()

    await page.locator("#token").fill("not-a-token")
    await page.locator("#sign-in-form button[type=submit]").click()
    await expect(page.locator("#sign-in-expired")).to_be_visible()

    await page.locator("#token").fill(f"Bearer {token(served)}")
    await page.locator("#sign-in-form button[type=submit]").click()
    await expect(page.locator("#main")).to_be_visible()
    await expect_gauges(page, await api_json(api, "/indicators"))

    # A token that stops working (expired, revoked) brings the paste field back.
    await page.evaluate("sessionStorage.setItem('salesops.metrics.token', 'expired')")
    await page.locator("#unit").select_option("region-east")
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator("#sign-in-expired")).to_be_visible()
    await expect(page.locator("#main")).to_be_hidden()


async def test_the_cause_tree_shows_each_part_and_opens_its_records(
    served: RunningService, browser: Browser, api: httpx.AsyncClient
) -> None:
    page = await open_dashboard(browser, served, DESKTOP)
    indicators = await api_json(api, "/indicators")
    await expect_gauges(page, indicators)
    # The cause tree opens on this period against the one before, split by org unit.
    await expect(page.locator("#cause-after")).to_have_value(indicators["period"])
    before = await page.locator("#cause-before").input_value()
    assert before < indicators["period"]
    await page.locator("#cause-dimension").select_option("tier")
    causes = await api_json(
        api,
        f"/causes?measure=trace&dimension=tier&unit=hq&before={before}"
        f"&after={indicators['period']}",
    )
    assert causes["total_change_pct"] == "-40.00"  # 100% in February, 3 / 5 in March
    await expect(page.locator("#causes [data-role='total-change']")).to_have_attribute(
        "data-value", causes["total_change_pct"]
    )
    parts = page.locator("#causes li.part")
    await expect(parts).to_have_count(len(causes["parts"]))
    for i, part in enumerate(causes["parts"]):
        await expect(parts.nth(i)).to_have_attribute("data-segment", part["segment"])
        await expect(parts.nth(i)).to_have_attribute("data-change", part["change_pct"] or "")
        await expect(parts.nth(i).locator(".part-change")).to_contain_text(part["change_pct"])

    b_tier = next(p for p in causes["parts"] if p["segment"] == "B")
    records = await api_json(api, b_tier["records_after"])
    await page.locator("#causes li[data-segment='B'] [data-records='records_after']").click()
    rows = page.locator("#records tbody tr")
    await expect(rows).to_have_count(len(records["records"]))
    shown_ids = await rows.evaluate_all("rows => rows.map(r => r.dataset.recordId)")
    assert shown_ids == [r["record_id"] for r in records["records"]]
    assert set(shown_ids) == {"fu-3", "t2"}  # 王芳's B-tier customer c2


async def test_while_the_stream_is_down_the_page_polls_and_catches_up_when_it_is_back(
    served: RunningService,
    browser: Browser,
    api: httpx.AsyncClient,
    js: JetStreamContext,
    namespace: str,
) -> None:
    context = await browser.new_context(viewport=DESKTOP)
    await context.route("**/changes", lambda route: route.abort())
    page = await context.new_page()
    await page.goto(f"{base_url(served)}/dashboard/#token={token(served)}")
    await expect_gauges(page, await api_json(api, "/indicators"))
    await expect(page.locator("#live")).to_have_attribute("data-live", "polling")

    # A change nobody announced: the page learns of it when the stream is back.
    await publish_all(js, namespace, [follow_up("fu-missed", "c2", WANG, 17)])

    async def trace_moved() -> bool:
        found = await api_json(api, "/indicators")
        return any(f["measure"] == "trace" and f["value"] == "66.67" for f in found["figures"])

    await eventually(trace_moved)
    await context.unroute("**/changes")
    await expect(page.locator("#live")).to_have_attribute("data-live", "stream")
    await expect_gauges(page, await api_json(api, "/indicators"))
