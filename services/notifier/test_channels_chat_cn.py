"""DingTalk / WeCom channels against local servers that check requests like the platforms."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from salesops.clock import ManualClock, SystemClock
from services.notifier.channels_chat_cn import (
    OPEN_LABEL,
    DingTalkRobot,
    WeComApp,
    WeComRobot,
    dingtalk_sign,
)
from services.notifier.messages import Channel, OutgoingMessage, Recipient, SentRequest
from services.notifier.platform_fakes import (
    dingtalk_server,
    wecom_app_server,
    wecom_robot_server,
)

SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"

LINK = "https://sales.example.com/customers/c-42"
MESSAGE = OutgoingMessage(
    title="跟进提醒 / Follow-up due",
    markdown="### 跟进提醒\n客户 **星河科技** 的跟进今天到期。",
    text="客户 星河科技 的跟进今天到期。",
    html="<p>客户 星河科技 的跟进今天到期。</p>",
    link=LINK,
)
ZHANG = Recipient(person_id="p-1", name="张三", address="zhangsan", mobile="13800001111")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def body_of(request: SentRequest) -> Any:
    return json.loads(request.body)


def test_channels_satisfy_the_protocol(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    channels: list[Channel] = [
        DingTalkRobot(
            webhook_url="http://x/robot/send?access_token=t", secret=None, http=http, clock=clock
        ),
        WeComRobot(webhook_url="http://x/cgi-bin/webhook/send?key=k", http=http),
        WeComApp(
            api_base="http://x", corp_id="c", corp_secret="s", agent_id=7, http=http, clock=clock
        ),
    ]
    assert [c.name for c in channels] == ["dingtalk", "wecom", "wecom_app"]
    assert channels[0].robot_key(ZHANG) == "http://x/robot/send?access_token=t"
    assert channels[1].robot_key(ZHANG) == "http://x/cgi-bin/webhook/send?key=k"
    assert channels[2].robot_key(ZHANG) == "wecom-app:7"


# ---------------------------------------------------------------------------------- DingTalk


def test_dingtalk_sign_matches_the_documented_algorithm() -> None:
    timestamp, secret = 1577262236757, "this is secret"
    expected = base64.b64encode(
        hmac.new(
            secret.encode(), f"{timestamp}\n{secret}".encode(), digestmod=hashlib.sha256
        ).digest()
    ).decode()
    assert dingtalk_sign(timestamp, secret) == expected


async def test_dingtalk_signed_markdown_with_mention_is_accepted(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with dingtalk_server(secret=SECRET, clock=clock) as srv:
        robot = DingTalkRobot(webhook_url=srv.webhook_url, secret=SECRET, http=http, clock=clock)
        result = await robot.send(MESSAGE, ZHANG)

    assert result.ok, result
    assert result.status_code == 200
    assert json.loads(result.provider_reply)["errcode"] == 0
    [request] = srv.received
    assert request.verified, request.notes
    assert request.notes == []
    assert request.query["timestamp"] == str(int(clock.now().timestamp() * 1000))
    body = body_of(request)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == MESSAGE.title
    assert "@13800001111" in body["markdown"]["text"]
    assert f"[{OPEN_LABEL}]({LINK})" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": ["13800001111"], "isAtAll": False}


async def test_dingtalk_sign_with_plus_and_slash_survives_url_encoding(
    http: httpx.AsyncClient,
) -> None:
    # Find a timestamp whose signature has '+' and '/': a sign that is not URL-encoded (or
    # is encoded twice) reaches DingTalk mangled.
    clock = ManualClock()
    while not {"+", "/"} <= set(dingtalk_sign(int(clock.now().timestamp() * 1000), SECRET)):
        clock.advance(timedelta(milliseconds=1))
    async with dingtalk_server(secret=SECRET, clock=clock) as srv:
        robot = DingTalkRobot(webhook_url=srv.webhook_url, secret=SECRET, http=http, clock=clock)
        result = await robot.send(MESSAGE, ZHANG)
    assert result.ok, result
    assert srv.received[0].verified


async def test_dingtalk_wrong_secret_is_refused_and_final(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with dingtalk_server(secret=SECRET, clock=clock) as srv:
        robot = DingTalkRobot(
            webhook_url=srv.webhook_url, secret="SECwrong", http=http, clock=clock
        )
        result = await robot.send(MESSAGE, ZHANG)
    assert not result.ok
    assert not result.retryable
    assert result.status_code == 200
    assert json.loads(result.provider_reply)["errcode"] == 310000
    [request] = srv.received
    assert not request.verified
    assert request.notes == ["sign does not match"]


async def test_dingtalk_missing_signature_and_stale_timestamp_are_refused(
    http: httpx.AsyncClient,
) -> None:
    server_clock = ManualClock()
    robot_clock = ManualClock(server_clock.now() - timedelta(hours=2))
    async with dingtalk_server(secret=SECRET, clock=server_clock) as srv:
        unsigned = DingTalkRobot(
            webhook_url=srv.webhook_url, secret=None, http=http, clock=server_clock
        )
        stale = DingTalkRobot(
            webhook_url=srv.webhook_url, secret=SECRET, http=http, clock=robot_clock
        )
        results = [await unsigned.send(MESSAGE, ZHANG), await stale.send(MESSAGE, ZHANG)]
        robot_clock.advance(timedelta(hours=1, minutes=1))  # 59 minutes behind: accepted
        results.append(await stale.send(MESSAGE, ZHANG))
    assert [(r.ok, r.retryable) for r in results] == [(False, False), (False, False), (True, False)]
    assert [r.verified for r in srv.received] == [False, False, True]
    assert "timestamp" in srv.received[1].notes[0]


async def test_dingtalk_unknown_access_token_is_final(http: httpx.AsyncClient) -> None:
    async with dingtalk_server() as srv:
        robot = DingTalkRobot(
            webhook_url=f"{srv.url}/robot/send?access_token=nope",
            secret=None,
            http=http,
            clock=SystemClock(),
        )
        result = await robot.send(MESSAGE, ZHANG)
    assert (result.ok, result.retryable) == (False, False)
    assert json.loads(result.provider_reply)["errcode"] == 300001


async def test_dingtalk_errcode_with_http_200_is_a_failure(http: httpx.AsyncClient) -> None:
    async with dingtalk_server(secret=SECRET, errcode=400013) as srv:
        robot = DingTalkRobot(
            webhook_url=srv.webhook_url, secret=SECRET, http=http, clock=SystemClock()
        )
        result = await robot.send(MESSAGE, ZHANG)
    assert result.status_code == 200
    assert (result.ok, result.retryable) == (False, False)
    assert srv.received[0].verified


async def test_dingtalk_send_too_fast_is_retryable_then_succeeds(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with dingtalk_server(secret=SECRET, clock=clock) as srv:
        srv.fail_next(130101, times=2)
        robot = DingTalkRobot(webhook_url=srv.webhook_url, secret=SECRET, http=http, clock=clock)
        results = [await robot.send(MESSAGE, ZHANG) for _ in range(3)]
    assert [(r.ok, r.retryable) for r in results] == [(False, True), (False, True), (True, False)]
    assert "send too fast" in results[0].provider_reply


async def test_dingtalk_http_5xx_429_retryable_4xx_final(http: httpx.AsyncClient) -> None:
    async with dingtalk_server() as srv:
        srv.fail_next_http(502)
        srv.fail_next_http(429)
        srv.fail_next_http(404)
        robot = DingTalkRobot(
            webhook_url=srv.webhook_url, secret=None, http=http, clock=SystemClock()
        )
        results = [await robot.send(MESSAGE, ZHANG) for _ in range(3)]
    assert [(r.ok, r.retryable, r.status_code) for r in results] == [
        (False, True, 502),
        (False, True, 429),
        (False, False, 404),
    ]


async def test_dingtalk_server_gone_is_retryable(http: httpx.AsyncClient) -> None:
    async with dingtalk_server(secret=SECRET) as srv:
        robot = DingTalkRobot(
            webhook_url=srv.webhook_url, secret=SECRET, http=http, clock=SystemClock()
        )
        assert (await robot.send(MESSAGE, ZHANG)).ok
        await srv.stop()
        result = await robot.send(MESSAGE, ZHANG)
    assert (result.ok, result.retryable) == (False, True)
    assert "network error" in result.provider_reply
    assert result.status_code is None


async def test_dingtalk_user_id_mention_and_action_card(http: httpx.AsyncClient) -> None:
    by_user_id = Recipient(person_id="p-2", name="李四", address="manager4262")
    nobody = Recipient(person_id="p-3", name="群", address="")
    async with dingtalk_server() as srv:
        robot = DingTalkRobot(
            webhook_url=srv.webhook_url, secret=None, http=http, clock=SystemClock()
        )
        assert (await robot.send(MESSAGE, by_user_id)).ok
        assert (await robot.send(MESSAGE, nobody)).ok
        mobile_as_address = Recipient(person_id="p-4", name="王五", address="13900002222")
        assert (await robot.send(MESSAGE, mobile_as_address)).ok
    first, second, third = (body_of(r) for r in srv.received)
    assert first["at"] == {"atUserIds": ["manager4262"], "isAtAll": False}
    assert "@manager4262" in first["markdown"]["text"]
    assert second["msgtype"] == "actionCard"
    assert second["actionCard"]["singleTitle"] == OPEN_LABEL
    assert second["actionCard"]["singleURL"] == LINK
    assert third["at"]["atMobiles"] == ["13900002222"]
    assert all(r.verified and r.notes == [] for r in srv.received)


# ------------------------------------------------------------------------------ WeCom robot


async def test_wecom_robot_markdown_mentions_the_user(http: httpx.AsyncClient) -> None:
    async with wecom_robot_server(key="k-123") as srv:
        robot = WeComRobot(webhook_url=srv.webhook_url, http=http)
        result = await robot.send(MESSAGE, ZHANG)
    assert result.ok, result
    [request] = srv.received
    assert request.verified
    assert request.query == {"key": "k-123"}
    body = body_of(request)
    assert body["msgtype"] == "markdown"
    assert srv.mentions(request) == ["zhangsan"]
    assert LINK in body["markdown"]["content"]


async def test_wecom_robot_invalid_key_is_final(http: httpx.AsyncClient) -> None:
    async with wecom_robot_server(key="k-123") as srv:
        robot = WeComRobot(webhook_url=f"{srv.url}/cgi-bin/webhook/send?key=other", http=http)
        result = await robot.send(MESSAGE, ZHANG)
    assert (result.ok, result.retryable, result.status_code) == (False, False, 200)
    assert json.loads(result.provider_reply)["errcode"] == 93000
    assert not srv.received[0].verified


async def test_wecom_robot_rate_limit_is_retryable(http: httpx.AsyncClient) -> None:
    async with wecom_robot_server() as srv:
        srv.fail_next(45009)
        robot = WeComRobot(webhook_url=srv.webhook_url, http=http)
        limited = await robot.send(MESSAGE, ZHANG)
        after = await robot.send(MESSAGE, ZHANG)
    assert (limited.ok, limited.retryable) == (False, True)
    assert after.ok


async def test_wecom_robot_other_errcode_is_final(http: httpx.AsyncClient) -> None:
    async with wecom_robot_server(errcode=40008) as srv:
        result = await WeComRobot(webhook_url=srv.webhook_url, http=http).send(MESSAGE, ZHANG)
    assert (result.ok, result.retryable) == (False, False)


async def test_wecom_robot_long_markdown_is_cut_to_the_limit(http: httpx.AsyncClient) -> None:
    long = OutgoingMessage(title="t", markdown="很长" * 2000, text="", html="")
    async with wecom_robot_server() as srv:
        result = await WeComRobot(webhook_url=srv.webhook_url, http=http).send(long, ZHANG)
    assert result.ok, result
    content = body_of(srv.received[0])["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.endswith("<@zhangsan>")


async def test_wecom_robot_server_gone_is_retryable(http: httpx.AsyncClient) -> None:
    async with wecom_robot_server() as srv:
        url = srv.webhook_url
    result = await WeComRobot(webhook_url=url, http=http).send(MESSAGE, ZHANG)
    assert (result.ok, result.retryable) == (False, True)


# -------------------------------------------------------------------------------- WeCom app


def wecom_app(api_base: str, http: httpx.AsyncClient, clock: ManualClock, **kw: Any) -> WeComApp:
    settings: dict[str, Any] = {
        "corp_id": "ww-test-corp",
        "corp_secret": "app-secret",
        "agent_id": 1000002,
    }
    settings.update(kw)
    return WeComApp(api_base=api_base, http=http, clock=clock, **settings)


def paths(received: list[SentRequest]) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in received]


async def test_wecom_app_fetches_token_once_and_reuses_it(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with wecom_app_server(clock=clock) as srv:
        app = wecom_app(srv.api_base, http, clock)
        results = [await app.send(MESSAGE, ZHANG) for _ in range(3)]
    assert all(r.ok for r in results), results
    assert srv.tokens_issued == 1
    assert paths(srv.received) == ["gettoken", "send", "send", "send"]
    assert all(r.verified for r in srv.received)
    body = body_of(srv.received[1])
    assert body["touser"] == "zhangsan"
    assert body["agentid"] == 1000002
    assert body["msgtype"] == "markdown"
    assert LINK in body["markdown"]["content"]
    # The secret travels to gettoken only.
    assert srv.received[0].query == {"corpid": "ww-test-corp", "corpsecret": "app-secret"}
    assert "corpsecret" not in srv.received[1].query


async def test_wecom_app_refreshes_token_before_expiry(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with wecom_app_server(clock=clock, expires_in=7200) as srv:
        app = wecom_app(srv.api_base, http, clock)
        assert (await app.send(MESSAGE, ZHANG)).ok
        clock.advance(timedelta(hours=1))
        assert (await app.send(MESSAGE, ZHANG)).ok
        assert srv.tokens_issued == 1
        clock.advance(timedelta(minutes=56))  # 4 minutes before expiry: refresh first
        assert (await app.send(MESSAGE, ZHANG)).ok
    assert srv.tokens_issued == 2
    assert paths(srv.received) == ["gettoken", "send", "send", "gettoken", "send"]
    assert all(r.verified for r in srv.received)


async def test_wecom_app_refreshes_token_on_42001_and_40014(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with wecom_app_server(clock=clock) as srv:
        app = wecom_app(srv.api_base, http, clock)
        assert (await app.send(MESSAGE, ZHANG)).ok
        srv.expire_tokens()  # expired early on WeCom's side (e.g. a second token holder)
        assert (await app.send(MESSAGE, ZHANG)).ok
        srv.fail_next(42001)
        assert (await app.send(MESSAGE, ZHANG)).ok
        srv.revoke_tokens()
        assert (await app.send(MESSAGE, ZHANG)).ok
    assert srv.tokens_issued == 4
    assert paths(srv.received) == [
        "gettoken", "send",
        "send", "gettoken", "send",
        "send", "gettoken", "send",
        "send", "gettoken", "send",
    ]  # fmt: skip
    refused = [r for r in srv.received if not r.verified]
    assert [r.notes for r in refused] == [["access_token expired"], ["unknown access_token"]]


async def test_wecom_app_token_refused_twice_is_reported(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with wecom_app_server(clock=clock) as srv:
        srv.fail_next(42001, times=2)
        result = await wecom_app(srv.api_base, http, clock).send(MESSAGE, ZHANG)
    assert (result.ok, result.retryable) == (False, False)
    assert srv.tokens_issued == 2


async def test_wecom_app_wrong_secret_is_final(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with wecom_app_server(clock=clock) as srv:
        app = wecom_app(srv.api_base, http, clock, corp_secret="wrong")
        result = await app.send(MESSAGE, ZHANG)
    assert (result.ok, result.retryable) == (False, False)
    assert "40001" in result.provider_reply
    assert "wrong" not in result.provider_reply
    assert paths(srv.received) == ["gettoken"]


async def test_wecom_app_gettoken_busy_is_retryable(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with wecom_app_server(clock=clock) as srv:
        srv.fail_next(-1, route="gettoken")
        app = wecom_app(srv.api_base, http, clock)
        busy = await app.send(MESSAGE, ZHANG)
        after = await app.send(MESSAGE, ZHANG)
    assert (busy.ok, busy.retryable) == (False, True)
    assert after.ok


async def test_wecom_app_rate_limit_retryable_other_errcodes_final(
    http: httpx.AsyncClient,
) -> None:
    clock = ManualClock()
    async with wecom_app_server(clock=clock, known_users={"zhangsan"}) as srv:
        app = wecom_app(srv.api_base, http, clock)
        srv.fail_next(45009)
        limited = await app.send(MESSAGE, ZHANG)
        unknown_user = await app.send(
            MESSAGE, Recipient(person_id="p-9", name="离职", address="gone")
        )
        wrong_agent = await wecom_app(srv.api_base, http, clock, agent_id=1).send(MESSAGE, ZHANG)
        srv.fail_next_http(503)
        unavailable = await app.send(MESSAGE, ZHANG)
    assert (limited.ok, limited.retryable) == (False, True)
    assert (unknown_user.ok, unknown_user.retryable) == (False, False)
    assert "81013" in unknown_user.provider_reply
    assert (wrong_agent.ok, wrong_agent.retryable) == (False, False)
    assert "40056" in wrong_agent.provider_reply
    assert (unavailable.ok, unavailable.retryable, unavailable.status_code) == (False, True, 503)


async def test_wecom_app_server_gone_is_retryable(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with wecom_app_server(clock=clock) as srv:
        app = wecom_app(srv.api_base, http, clock)
        assert (await app.send(MESSAGE, ZHANG)).ok
        await srv.stop()
        sent_with_cached_token = await app.send(MESSAGE, ZHANG)
    fresh = await wecom_app(srv.api_base, http, clock).send(MESSAGE, ZHANG)
    assert (sent_with_cached_token.ok, sent_with_cached_token.retryable) == (False, True)
    assert (fresh.ok, fresh.retryable) == (False, True)


def test_dingtalk_signed_url_appends_encoded_query(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    robot = DingTalkRobot(
        webhook_url="https://oapi.dingtalk.com/robot/send?access_token=abc",
        secret=SECRET,
        http=http,
        clock=clock,
    )
    url = robot.signed_url()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    timestamp = int(clock.now().timestamp() * 1000)
    assert query == {
        "access_token": ["abc"],
        "timestamp": [str(timestamp)],
        "sign": [dingtalk_sign(timestamp, SECRET)],
    }
