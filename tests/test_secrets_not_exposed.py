"""Secrets never appear in logs or responses.

Three services run with every secret the deployment has configured (the JWT secret, the
NATS password, the DingTalk robot's access token and signing secret, the Feishu bot's hook
token and secret, the WeCom application's corp secret, the SMTP password, the signed
webhook's secret) and do real work: commands over HTTP, error responses of every kind,
notifications sent (and failed, and retried) on every chat channel and e-mail. Everything
they log (the services' JSON logs, as ``salesops serve`` configures them) and everything
they answer (bodies and headers, /readyz, /metrics, the OpenAPI document, the notifier's
deliveries and attempts with the platforms' replies) is searched for the secret values and
for the bearer tokens the requests carried.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from contracts.collaboration import DepartmentQualityAlert
from salesops.clock import ManualClock
from salesops.runtime import ServiceDefinition
from salesops.telemetry import configure_logging
from salesops.testing.apps import RunningService, ServiceStarter
from salesops.testing.events import publish_event
from salesops.testing.waiting import eventually
from services.collaboration.service import COLLABORATION
from services.customers.service import CUSTOMERS
from services.notifier.platform_fakes import dingtalk_server, wecom_app_server
from services.notifier.platform_fakes_other import feishu_server, smtp_server
from services.notifier.service import NOTIFIER

pytestmark = pytest.mark.integration

JWT_SECRET = "jwt-secret-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e"
NATS_PASSWORD = "nats-password-1b3d5f7a9c"
DINGTALK_ACCESS_TOKEN = "dt-access-token-5d1f9b7c3a"
DINGTALK_SECRET = "SECdingtalk-robot-secret-8e2c4a6b"
FEISHU_HOOK_TOKEN = "feishu-hook-token-3b7d9f1a"
FEISHU_SECRET = "feishu-sign-secret-6c8e0a2b"
WECOM_CORP_SECRET = "wecom-corp-secret-9a1c3e5f"
SMTP_PASSWORD = "smtp-password-4d6f8a0c"
WEBHOOK_SECRET = "webhook-hmac-secret-2e4a6c8e"
S3_SECRET_KEY = "s3-secret-key-0a2c4e6f8b"
SECRETS = {
    "JWT secret": JWT_SECRET,
    "NATS password": NATS_PASSWORD,
    "DingTalk access token": DINGTALK_ACCESS_TOKEN,
    "DingTalk signing secret": DINGTALK_SECRET,
    "Feishu hook token": FEISHU_HOOK_TOKEN,
    "Feishu signing secret": FEISHU_SECRET,
    "WeCom corp secret": WECOM_CORP_SECRET,
    "SMTP password": SMTP_PASSWORD,
    "webhook secret": WEBHOOK_SECRET,
    "object store secret key": S3_SECRET_KEY,
}
#: Query parameters that carry credentials on the platforms' URLs (DingTalk's signature
#: changes with every send, WeCom's access tokens are issued at run time): no URL with
#: one of them may be shown, whatever its value.
CREDENTIAL_PARAMETERS = ("access_token=", "sign=", "corpsecret=", "key=")


#: Loggers of the test's own fake servers running in this process (the SMTP server), not
#: of the services: what they print is not what the services log.
FAKES_LOGGERS = frozenset({"mail.log"})


@contextlib.contextmanager
def json_logs(level: str) -> Iterator[io.StringIO]:
    """The services' JSON logs as ``salesops serve`` configures them, into a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("secrets-test", level)
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


class Recorder:
    """Every response the services gave, and every bearer token the requests carried."""

    def __init__(self) -> None:
        self.responses: list[str] = []
        self.tokens: list[str] = []

    async def call(
        self,
        service: RunningService,
        method: str,
        url: str,
        who: str | None = None,
        *,
        expect: int | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if who is not None:
            sent |= service.auth(who)
        if "Authorization" in sent:
            self.tokens.append(sent["Authorization"].removeprefix("Bearer "))
        response = await service.client.request(method, url, headers=sent, **kwargs)
        head = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.responses.append(f"{method} {url} -> {response.status_code}\n{head}\n{response.text}")
        if expect is not None:
            assert response.status_code == expect, (url, response.text)
        return response


@pytest.fixture
async def platforms(clock: ManualClock) -> AsyncIterator[dict[str, Any]]:
    async with (
        dingtalk_server(
            secret=DINGTALK_SECRET, access_token=DINGTALK_ACCESS_TOKEN, clock=clock
        ) as dingtalk,
        feishu_server(token=FEISHU_HOOK_TOKEN, secret=FEISHU_SECRET, clock=clock) as feishu,
        wecom_app_server(corp_secret=WECOM_CORP_SECRET, clock=clock) as wecom,
        smtp_server(security="none") as mailbox,
    ):
        yield {"dingtalk": dingtalk, "feishu": feishu, "wecom": wecom, "mailbox": mailbox}


def configure_secrets(monkeypatch: pytest.MonkeyPatch, platforms: dict[str, Any]) -> None:
    env = {
        "SALESOPS_JWT_SECRET": JWT_SECRET,
        "SALESOPS_OBJECT_STORE_SECRET_KEY": S3_SECRET_KEY,
        "SALESOPS_NOTIFY_DINGTALK_WEBHOOK": platforms["dingtalk"].webhook_url,
        "SALESOPS_NOTIFY_DINGTALK_SECRET": DINGTALK_SECRET,
        "SALESOPS_NOTIFY_FEISHU_WEBHOOK": platforms["feishu"].webhook_url,
        "SALESOPS_NOTIFY_FEISHU_SECRET": FEISHU_SECRET,
        "SALESOPS_NOTIFY_WECOM_API_BASE": platforms["wecom"].api_base,
        "SALESOPS_NOTIFY_WECOM_CORP_ID": platforms["wecom"].corp_id,
        "SALESOPS_NOTIFY_WECOM_CORP_SECRET": WECOM_CORP_SECRET,
        "SALESOPS_NOTIFY_WECOM_AGENT_ID": str(platforms["wecom"].agent_id),
        "SALESOPS_NOTIFY_SMTP_HOST": platforms["mailbox"].host,
        "SALESOPS_NOTIFY_SMTP_PORT": str(platforms["mailbox"].port),
        "SALESOPS_NOTIFY_SMTP_SECURITY": "none",
        "SALESOPS_NOTIFY_SMTP_USERNAME": "salesops",
        "SALESOPS_NOTIFY_SMTP_PASSWORD": SMTP_PASSWORD,
        "SALESOPS_NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/hooks/salesops",
        "SALESOPS_NOTIFY_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def services_lines(logs: str) -> str:
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    return "\n".join(
        json.dumps(line, ensure_ascii=False)
        for line in lines
        if line.get("logger") not in FAKES_LOGGERS
    )


# INFO is what runs; DEBUG is what an operator turns on to investigate.
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_no_secret_and_no_bearer_token_is_logged_or_answered(
    level: str,
    platforms: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    start_service: ServiceStarter,
    namespace: str,
    js: JetStreamContext,
) -> None:
    configure_secrets(monkeypatch, platforms)
    seen = Recorder()

    def service(
        definition: ServiceDefinition,
    ) -> contextlib.AbstractAsyncContextManager[RunningService]:
        """On a schema of its own, logged in to NATS as itself."""
        return start_service(
            definition, own_schema=True, nats_user=definition.name, nats_password=NATS_PASSWORD
        )

    with json_logs(level) as logs:
        async with (
            service(CUSTOMERS) as customers,
            service(COLLABORATION) as collaboration,
            service(NOTIFIER) as notifier,
        ):
            # The deployment's tokens are signed with the configured secret, not the default.
            assert customers.runtime.settings.jwt_secret == JWT_SECRET
            await do_work(seen, customers, collaboration, notifier, js, namespace, platforms)
            for running in (customers, collaboration, notifier):
                await look_everywhere(seen, running)
            await look_at_deliveries(seen, notifier)

    logged = services_lines(logs.getvalue())
    exposed = {
        "logs": logged,
        "responses": "\n".join(seen.responses),
    }
    # WeCom's access tokens are issued while the test runs: secrets too.
    issued = {f"WeCom access token {i}": t for i, t in enumerate(platforms["wecom"].tokens)}
    assert issued, "the WeCom application was used"
    for where, text in exposed.items():
        for what, secret in {**SECRETS, **issued}.items():
            assert secret not in text, f"the {what} appears in the {where}"
        for token in seen.tokens:
            signature = token.rsplit(".", 1)[-1]
            assert signature not in text, f"a bearer token appears in the {where}"
        for parameter in CREDENTIAL_PARAMETERS:
            assert parameter not in text, f"a URL with {parameter!r} appears in the {where}"
    # The search found what it looked through: real work was done and recorded.
    assert len(seen.responses) > 40
    assert len(seen.tokens) > 10


async def do_work(
    seen: Recorder,
    customers: RunningService,
    collaboration: RunningService,
    notifier: RunningService,
    js: JetStreamContext,
    namespace: str,
    platforms: dict[str, Any],
) -> None:
    """Commands that notify someone on each channel, and failures of every kind."""
    rep, other_rep = "rep-zhang-wei", "rep-chen-jing"
    created = await seen.call(
        customers,
        "POST",
        "/customers",
        rep,
        json={"name": "宁波精密模具", "tier": "A", "estimated_contribution": "1200000.00"},
        expect=201,
    )
    customer = created.json()["customer_id"]
    # DecisionStateChanged -> the sales manager on DingTalk (the first send is refused).
    platforms["dingtalk"].fail_next(130101)
    await seen.call(
        customers,
        "PUT",
        f"/customers/{customer}/decision-state",
        rep,
        json={"state": "budget_pending"},
        expect=200,
    )
    # ProgressReported -> rep-chen-jing's group lead on WeCom (application message).
    theirs = await seen.call(
        customers,
        "POST",
        "/customers",
        other_rep,
        json={"name": "无锡华光", "tier": "B", "estimated_contribution": "300000.00"},
        expect=201,
    )
    await seen.call(
        customers,
        "POST",
        f"/customers/{theirs.json()['customer_id']}/progress-reports",
        other_rep,
        json={"key_action": "quoted", "obstacle": "budget_frozen", "support_needed": "请协调"},
        expect=201,
    )

    # TicketDispatched -> the tech engineer on Feishu, once collaboration knows the customer.
    async def known() -> bool:
        return bool(
            await collaboration.runtime.pool.fetchval(
                "SELECT count(*) FROM known_customers WHERE customer_id = $1", customer
            )
        )

    await eventually(known)
    await seen.call(
        collaboration,
        "POST",
        "/tickets",
        rep,
        json={
            "customer_id": customer,
            "product": "HY-75 空压机",
            "quantity": 1,
            "document_types": ["ce_certification_report"],
        },
        expect=201,
    )
    # NegotiationJoinRequested -> the sales manager on DingTalk, refused for good: a dead letter.
    platforms["dingtalk"].fail_next(300001)
    await seen.call(
        customers,
        "PUT",
        f"/customers/{customer}/decision-state",
        rep,
        json={"state": "intent_confirmed"},
        expect=200,
    )
    # DepartmentQualityAlert -> the department head by e-mail (the SMTP login fails).
    alert = DepartmentQualityAlert(
        team_id="tech-electrical",
        head_id="td-zheng-lixin",
        ticket_ids=["tkt-1", "tkt-2", "tkt-3"],
        improvement_items=["tkt-1: tech_answer late"],
        raised_at=notifier.clock.now(),
    )
    await publish_event(js, namespace, alert, subject_id="tech-electrical")

    async def planned() -> bool:
        channels = await notifier.runtime.pool.fetch("SELECT DISTINCT channel FROM deliveries")
        return {row["channel"] for row in channels} >= {"dingtalk", "wecom", "feishu", "email"}

    await eventually(planned)
    worker = notifier.app.state.service.worker
    await worker.tick()
    notifier.clock.advance(timedelta(minutes=5))  # past every back-off
    await worker.tick()
    assert platforms["dingtalk"].verified, "the DingTalk robot was reached"
    assert platforms["feishu"].cards, "the Feishu bot was reached"
    assert platforms["wecom"].tokens, "WeCom issued an access token"

    # Refusals of every kind, with and without tokens.
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpdC1mYW5nLW1pbiJ9.Zm9yZ2VkLXNpZ25hdHVyZQ"
    seen.tokens.append(forged)
    await seen.call(customers, "GET", "/customers", expect=401)
    await seen.call(
        customers, "GET", "/customers", headers={"Authorization": f"Bearer {forged}"}, expect=401
    )
    await seen.call(
        customers,
        "GET",
        "/customers",
        headers={
            "Authorization": f"Bearer {customers.runtime.tokens.mint(rep, ttl=-timedelta(1))}"
        },
        expect=401,
    )
    await seen.call(customers, "GET", f"/customers/{customer}", other_rep, expect=403)
    await seen.call(customers, "GET", "/customers/cus-nobody", rep, expect=404)
    await seen.call(customers, "POST", "/customers", rep, json={"tier": "Z"}, expect=422)
    await seen.call(
        customers,
        "POST",
        "/customers",
        rep,
        content=b"{not json",
        expect=400,
        headers={"content-type": "application/json"},
    )
    await seen.call(notifier, "GET", "/dead-letters", rep, expect=403)


async def look_everywhere(seen: Recorder, service: RunningService) -> None:
    """What anyone can read of a service: operations endpoints and its documentation."""
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"):
        await seen.call(service, "GET", path, expect=200)
    await seen.call(service, "GET", "/no-such-page", "it-fang-min", expect=404)
    await seen.call(service, "DELETE", "/healthz", "it-fang-min", expect=405)


async def look_at_deliveries(seen: Recorder, notifier: RunningService) -> None:
    """Every delivery, every attempt with the platform's reply, the dead letters."""
    admin = "it-fang-min"
    listed = await seen.call(notifier, "GET", "/deliveries", admin, expect=200)
    deliveries = listed.json()
    assert {d["channel"] for d in deliveries} >= {"dingtalk", "wecom", "feishu", "email"}
    for delivery in deliveries:
        attempts = await seen.call(
            notifier, "GET", f"/deliveries/{delivery['delivery_id']}/attempts", admin, expect=200
        )
        assert attempts.json(), delivery
        await seen.call(notifier, "GET", f"/audit/records/{delivery['delivery_id']}", admin)
    dead = await seen.call(notifier, "GET", "/dead-letters", admin, expect=200)
    assert [d["channel"] for d in dead.json()] == ["dingtalk"], "a refusal was recorded"
