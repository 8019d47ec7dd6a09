"""The console: one address that signs people in and forwards their calls to the services."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from salesops.clock import ManualClock
from salesops.testing.apps import RunningService, ServiceStarter
from salesops.testing.served import serving
from services.console.app import create_console_app
from services.console.settings import ConsoleSettings
from services.customers.service import CUSTOMERS
from services.metrics.service import METRICS

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def console(
    upstreams: dict[str, str], settings: ConsoleSettings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    chosen = (settings or ConsoleSettings()).model_copy(update={"console_upstreams": upstreams})
    app = create_console_app(chosen)
    async with (
        app.router.lifespan_context(app),
        serving(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        yield client


@pytest.fixture
async def customers_on_port(start_service: ServiceStarter) -> AsyncIterator[RunningService]:
    async with start_service(CUSTOMERS, on_port=True) as service:
        yield service


async def sign_in(client: httpx.AsyncClient, person_id: str) -> dict[str, str]:
    response = await client.post("/auth/dev-token", json={"person_id": person_id})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_a_person_signs_in_and_their_calls_reach_the_service(
    customers_on_port: RunningService,
) -> None:
    assert customers_on_port.base_url is not None
    async with console({"customers": customers_on_port.base_url}) as client:
        people = (await client.get("/auth/people")).json()
        assert {"id": "rep-zhang-wei", "name": "张伟"}.items() <= next(
            p for p in people if p["id"] == "rep-zhang-wei"
        ).items()
        rep = await sign_in(client, "rep-zhang-wei")
        me = await client.get("/auth/me", headers=rep)
        assert me.json()["id"] == "rep-zhang-wei"

        created = await client.post(
            "/api/customers/customers",
            json={"name": "宁波精密模具", "tier": "A", "estimated_contribution": "1200000.00"},
            headers=rep,
        )
        assert created.status_code == 201, created.text
        customer_id = created.json()["customer_id"]
        listed = await client.get("/api/customers/customers", params={"tier": "A"}, headers=rep)
        assert [c["customer_id"] for c in listed.json()] == [customer_id]
        # Headers the console's own server sets come once, not once per hop.
        assert len(listed.headers.get_list("server")) == 1
        assert len(listed.headers.get_list("date")) == 1
        # The service's own refusals come through unchanged, problem details and all.
        refused = await client.get("/api/customers/customers")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        invalid = await client.post("/api/customers/customers", json={"tier": "Z"}, headers=rep)
        assert invalid.status_code == 422
        assert {e["field"] for e in invalid.json()["errors"]} >= {"name", "tier"}


async def test_every_screen_path_serves_the_app_and_unknown_services_are_named(
    customers_on_port: RunningService,
) -> None:
    assert customers_on_port.base_url is not None
    async with console({"customers": customers_on_port.base_url}) as client:
        for path in ("/", "/customers/cus-1", "/tickets/tkt-9", "/tasks/task-3"):
            page = await client.get(path)
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
        missing = await client.get("/api/nowhere/x")
        assert missing.status_code == 404
        assert "customers" in missing.json()["detail"]


async def test_a_service_that_is_down_is_a_502_not_a_hang() -> None:
    async with console({"tasks": "http://127.0.0.1:9"}) as client:
        response = await client.get("/api/tasks/tasks")
        assert response.status_code == 502
        assert "tasks" in response.json()["detail"]
        ready = await client.get("/readyz")
        assert ready.status_code == 200  # the console itself still serves
        assert set(ready.json()["unreachable"]) == {"tasks"}


async def test_production_has_no_development_sign_in() -> None:
    settings = ConsoleSettings(environment="production", jwt_secret="s" * 40)
    async with console({}, settings) as client:
        assert (await client.get("/auth/people")).status_code == 404
        assert (await client.post("/auth/dev-token", json={"person_id": "x"})).status_code == 404
        assert (await client.get("/auth/config")).json()["mode"] == "oidc"


async def test_the_change_stream_of_the_metrics_service_flows_through(
    start_service: ServiceStarter,
) -> None:
    async with start_service(METRICS, on_port=True, poll_timers=True) as metrics:
        assert metrics.base_url is not None
        async with console({"metrics": metrics.base_url}) as client:
            director = await sign_in(client, "sd-zhao-guoqiang")
            async with client.stream("GET", "/api/metrics/changes", headers=director) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = stream.aiter_lines()
                assert (await anext(lines)).startswith("retry:")
                channel = metrics.app.state.service.feed.channel
                await metrics.runtime.pool.execute("SELECT pg_notify($1, 'g1')", channel)
                seen = [await anext(lines) for _ in range(3)]
                assert "event: changed" in seen


@pytest.mark.parametrize(
    ("asked", "landed"),
    [
        ("/tickets/tkt-9", "/tickets/tkt-9"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        (None, "/"),
    ],
)
def test_after_signing_in_a_person_only_lands_on_a_page_of_this_console(
    asked: str | None, landed: str
) -> None:
    from services.console.oidc_signin import _local_path

    assert _local_path(asked) == landed


async def test_the_config_carries_the_policy_the_screens_show() -> None:
    clock = ManualClock()
    settings = ConsoleSettings(console_upstreams={})
    app = create_console_app(settings, clock=clock)
    async with (
        app.router.lifespan_context(app),
        serving(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        config = (await client.get("/auth/config")).json()
        # The numbers of deploy/policy.yaml, not copies in the page.
        assert config["timezone"] == "Asia/Shanghai"
        assert config["support_needed_max_chars"] == 50
        assert config["concession_approval_threshold_pct"] == "12"
        assert config["photo_capture_tolerance_seconds"] == 2 * 3600
        assert config["stale_after_seconds"] == 7 * 86400
        assert config["morning_meeting"] == "09:00"
        assert config["sla_seconds"]["tech_answer"] == 2 * 3600
        assert config["sla_seconds"]["negotiation_join"] == 24 * 3600
        assert (config["quality_alert_ratings"], config["quality_alert_below_stars"]) == (3, 3)
        # The server's clock, so countdowns do not depend on the phone's.
        assert config["now"].replace("Z", "+00:00") == clock.now().isoformat()


async def test_the_directory_names_people_and_teams_for_signed_in_people_only() -> None:
    async with console({}) as client:
        assert (await client.get("/auth/directory")).status_code == 401
        rep = await sign_in(client, "rep-zhang-wei")
        directory = (await client.get("/auth/directory", headers=rep)).json()
        people = {p["id"]: p for p in directory["people"]}
        assert people["rep-zhang-wei"]["name"] == "张伟"
        assert people["rep-zhang-wei"]["manager"] == "gl-li-na"
        # Names and reporting lines, never addresses.
        assert not {"email", "mobile", "dingtalk_user_id"} & people["rep-zhang-wei"].keys()
        teams = {t["id"]: t for t in directory["teams"]}
        assert "te-luo-bin" in teams["tech-electrical"]["members"]
        assert teams["logistics"]["kind"] == "logistics"
        assert {u["id"] for u in directory["org_units"]} >= {"hq", "region-east", "group-east-1"}
        assert {s["id"]: s["name_zh"] for s in directory["stages"]}["stocking_start"] == "备货启动"


def test_every_screen_text_exists_in_chinese_and_english() -> None:
    import re
    from pathlib import Path

    static = Path(__file__).resolve().parents[1] / "static"
    source = (static / "i18n.js").read_text(encoding="utf-8")
    blocks = re.split(r"^  (zh|en): \{$", source, flags=re.M)
    texts = {
        blocks[i]: set(re.findall(r"^    ([a-z0-9_]+):", blocks[i + 1].split("\n  },")[0], re.M))
        for i in (1, 3)
    }
    assert texts["zh"] == texts["en"], texts["zh"] ^ texts["en"]
    asked: set[str] = set()
    for script in static.glob("*.js"):
        code = script.read_text(encoding="utf-8")
        asked |= set(re.findall(r"\bt\(\s*\"([a-z0-9_]+)\"", code))
        # label("ds", value) looks up "ds_<value>": at least one such text must exist.
        for prefix in re.findall(r"\b(?:label|options)\(\s*\"([a-z]+)\"", code):
            assert any(key.startswith(f"{prefix}_") for key in texts["zh"]), prefix
    assert asked <= texts["zh"], sorted(asked - texts["zh"])
    assert len(asked) > 100  # the pattern did find the screens' texts


async def test_a_read_goes_again_when_a_kept_alive_connection_closes_under_it() -> None:
    from services.console.proxy import Forwarder

    calls: list[str] = []

    async def streamed(body: bytes) -> AsyncIterator[bytes]:
        yield body  # as a service's answer arrives: a stream, not bytes read already

    def upstream(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, content=streamed(b'{"ok": true}'))

    upstreams = {"tasks": "http://tasks.test"}
    app = create_console_app(ConsoleSettings(console_upstreams=upstreams))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as mocked,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://console"
        ) as client,
    ):
        app.state.forwarder = Forwarder(upstreams, mocked)
        read = await client.get("/api/tasks/tasks")
        assert (read.status_code, calls) == (200, ["GET", "GET"])
        calls.clear()
        # A write's body was streamed on: it is never sent twice.
        write = await client.post("/api/tasks/tasks", json={"title": "x"})
        assert (write.status_code, calls) == (502, ["POST"])
