"""Feishu, signed-webhook and SMTP channels against real local servers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from salesops.clock import ManualClock, SystemClock
from services.notifier.channels_other import (
    FeishuBot,
    SignedWebhook,
    SmtpEmail,
    feishu_sign,
    webhook_signature,
)
from services.notifier.messages import Channel, OutgoingMessage, Recipient
from services.notifier.platform_fakes_other import (
    feishu_server,
    free_port,
    self_signed_tls,
    smtp_server,
    webhook_receiver,
)

MESSAGE = OutgoingMessage(
    title="【逾期】客户回访任务已超时",
    markdown="**华东大区** 的回访任务已逾期 2 小时，请尽快处理。",
    text="华东大区的回访任务已逾期 2 小时，请尽快处理。",
    html="<p><b>华东大区</b>的回访任务已逾期 2 小时，请尽快处理。</p>",
    link="https://sales.example.com/tasks/42",
    urgent=True,
)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def _person(address: str) -> Recipient:
    return Recipient(person_id="p-1", name="张伟", address=address)


async def test_adapters_satisfy_the_channel_protocol(http: httpx.AsyncClient) -> None:
    client = http
    channels: list[Channel] = [
        FeishuBot(webhook_url="https://x/hook/t", secret=None, http=client, clock=SystemClock()),
        SignedWebhook(url="https://x/w", secret="s", http=client, clock=SystemClock()),
        SmtpEmail(host="smtp.example.com", port=587, sender="noreply@example.com"),
    ]
    assert [c.name for c in channels] == ["feishu", "webhook", "email"]
    assert channels[2].robot_key(_person("a@example.com")) == "smtp:smtp.example.com:587"


def test_feishu_sign_matches_the_documented_algorithm() -> None:
    # Feishu: the string "<timestamp>\n<secret>" is the HMAC key, the message is empty.
    expected = base64.b64encode(
        hmac.new(b"1599360473\nsecret", b"", hashlib.sha256).digest()
    ).decode()
    assert feishu_sign("1599360473", "secret") == expected
    # ...which is not DingTalk's order (key=secret, msg=string).
    dingtalk = base64.b64encode(
        hmac.new(b"secret", b"1599360473\nsecret", hashlib.sha256).digest()
    ).decode()
    assert expected != dingtalk


# --------------------------------------------------------------------------- Feishu


async def test_feishu_card_is_signed_and_accepted(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with feishu_server(secret="s3cret", clock=clock) as fake:
        bot = FeishuBot(webhook_url=fake.webhook_url, secret="s3cret", http=http, clock=clock)
        assert bot.robot_key(_person("ou_abc")) == fake.webhook_url
        result = await bot.send(MESSAGE, _person("ou_abc"))

    assert result.ok, result
    assert result.status_code == 200
    assert json.loads(result.provider_reply)["code"] == 0
    (request,) = fake.requests
    assert request.verified
    assert "sign ok" in request.notes
    payload = json.loads(request.body)
    assert payload["msg_type"] == "interactive"
    assert payload["timestamp"] == str(int(clock.now().timestamp()))
    card = payload["card"]
    assert card["header"]["title"]["content"] == MESSAGE.title
    body = card["elements"][0]["text"]
    assert body["tag"] == "lark_md"
    assert body["content"].startswith("<at id=ou_abc></at>")
    assert MESSAGE.markdown in body["content"]
    button = card["elements"][1]["actions"][0]
    assert button["tag"] == "button"
    assert button["url"] == MESSAGE.link


async def test_feishu_without_link_has_no_button_and_no_secret_is_unsigned(
    http: httpx.AsyncClient,
) -> None:
    message = OutgoingMessage(title="t", markdown="m", text="t", html="<p>t</p>")
    async with feishu_server(secret=None) as fake:
        bot = FeishuBot(webhook_url=fake.webhook_url, secret=None, http=http, clock=SystemClock())
        result = await bot.send(message, _person("ou_x"))
    assert result.ok
    payload = json.loads(fake.requests[0].body)
    assert "sign" not in payload
    assert "timestamp" not in payload
    assert [e["tag"] for e in payload["card"]["elements"]] == ["div"]


async def test_feishu_wrong_secret_is_refused_and_final(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with feishu_server(secret="right", clock=clock) as fake:
        bot = FeishuBot(webhook_url=fake.webhook_url, secret="wrong", http=http, clock=clock)
        result = await bot.send(MESSAGE, _person("ou_abc"))
    assert not result.ok
    assert not result.retryable
    assert json.loads(result.provider_reply)["code"] == 19021
    assert not fake.requests[0].verified
    assert "sign mismatch" in fake.requests[0].notes


async def test_feishu_stale_timestamp_is_refused(http: httpx.AsyncClient) -> None:
    server_clock = ManualClock()
    bot_clock = ManualClock(server_clock.now() - timedelta(hours=1, minutes=1))
    async with feishu_server(secret="s", clock=server_clock) as fake:
        bot = FeishuBot(webhook_url=fake.webhook_url, secret="s", http=http, clock=bot_clock)
        result = await bot.send(MESSAGE, _person("ou_abc"))
    assert not result.ok
    assert not result.retryable
    assert "timestamp not within one hour" in fake.requests[0].notes


async def test_feishu_nonzero_code_fails_and_rate_limit_is_retryable(
    http: httpx.AsyncClient,
) -> None:
    clock = ManualClock()
    async with feishu_server(secret="s", clock=clock) as fake:
        bot = FeishuBot(webhook_url=fake.webhook_url, secret="s", http=http, clock=clock)
        fake.answer_next(19024, "Key Words Not Found")
        fake.answer_next(11232, "frequency limited psm[lark.oapi.app_platform_runtime]", times=2)
        fake.answer_next(9499, "too many request")
        final = await bot.send(MESSAGE, _person("ou_abc"))
        limited = [await bot.send(MESSAGE, _person("ou_abc")) for _ in range(3)]
        after = await bot.send(MESSAGE, _person("ou_abc"))
    assert not final.ok
    assert not final.retryable
    assert [(r.ok, r.retryable) for r in limited] == [(False, True)] * 3
    assert after.ok
    assert len(fake.cards) == 1


async def test_feishu_network_failure_is_retryable(http: httpx.AsyncClient) -> None:
    url = f"http://127.0.0.1:{free_port()}/open-apis/bot/v2/hook/t"
    bot = FeishuBot(webhook_url=url, secret="s", http=http, clock=SystemClock())
    result = await bot.send(MESSAGE, _person("ou_abc"))
    assert not result.ok
    assert result.retryable
    assert result.status_code is None


# --------------------------------------------------------------------------- webhook


async def test_webhook_signature_is_verified_by_the_receiver(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with webhook_receiver(secret="whsec", clock=clock) as fake:
        hook = SignedWebhook(url=fake.url, secret="whsec", http=http, clock=clock)
        assert hook.robot_key(_person("")) == fake.url
        result = await hook.send(MESSAGE, _person("https://ignored"))
    assert result.ok, result
    assert result.status_code == 200
    (request,) = fake.requests
    assert request.verified
    ts = request.headers["x-salesops-timestamp"]
    assert ts == str(int(clock.now().timestamp()))
    assert request.headers["x-salesops-signature"] == webhook_signature("whsec", ts, request.body)
    assert fake.payloads == [
        {
            "title": MESSAGE.title,
            "text": MESSAGE.text,
            "link": MESSAGE.link,
            "urgent": True,
            "recipient": {"person_id": "p-1", "name": "张伟"},
        }
    ]


async def test_webhook_wrong_secret_is_final(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with webhook_receiver(secret="right", clock=clock) as fake:
        hook = SignedWebhook(url=fake.url, secret="wrong", http=http, clock=clock)
        result = await hook.send(MESSAGE, _person("x"))
    assert not result.ok
    assert not result.retryable
    assert result.status_code == 401
    assert fake.requests[0].notes == ["signature mismatch"]


async def test_webhook_500_and_429_retryable_400_final(http: httpx.AsyncClient) -> None:
    clock = ManualClock()
    async with webhook_receiver(secret="s", clock=clock) as fake:
        hook = SignedWebhook(url=fake.url, secret="s", http=http, clock=clock)
        fake.answer_next(500)
        fake.answer_next(429)
        fake.answer_next(400, {"error": "bad payload"})
        results = [await hook.send(MESSAGE, _person("x")) for _ in range(4)]
    assert [(r.ok, r.retryable, r.status_code) for r in results] == [
        (False, True, 500),
        (False, True, 429),
        (False, False, 400),
        (True, False, 200),
    ]
    assert "bad payload" in results[2].provider_reply


async def test_webhook_network_failure_is_retryable(http: httpx.AsyncClient) -> None:
    hook = SignedWebhook(
        url=f"http://127.0.0.1:{free_port()}/h", secret="s", http=http, clock=SystemClock()
    )
    result = await hook.send(MESSAGE, _person("x"))
    assert not result.ok
    assert result.retryable


# --------------------------------------------------------------------------- SMTP


def _check_mail(fake_messages: list[object], address: str) -> None:
    from services.notifier.platform_fakes_other import ReceivedMail

    (mail,) = fake_messages
    assert isinstance(mail, ReceivedMail)
    assert mail.rcpt_tos == [address]
    assert mail.mail_from == "noreply@sales.example.com"
    assert mail.message["Subject"] == MESSAGE.title  # RFC 2047-decoded by the parser
    assert "=?utf-8?" in mail.raw.decode("ascii", "replace").lower()  # ...and encoded on the wire
    assert mail.message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert mail.part("text/plain").strip() == MESSAGE.text
    assert mail.part("text/html").strip() == MESSAGE.html
    assert "张伟" in str(mail.message["To"])


async def test_smtp_plain_delivers_a_multipart_utf8_message() -> None:
    async with smtp_server() as fake:
        channel = SmtpEmail(
            host=fake.host, port=fake.port, sender="noreply@sales.example.com", security="none"
        )
        result = await channel.send(MESSAGE, _person("zhang.wei@example.com"))
    assert result.ok, result
    _check_mail(list(fake.messages), "zhang.wei@example.com")


async def test_smtp_starttls_delivers() -> None:
    tls = self_signed_tls()
    async with smtp_server(security="starttls", tls=tls) as fake:
        channel = SmtpEmail(
            host=fake.host,
            port=fake.port,
            sender="noreply@sales.example.com",
            security="starttls",
            tls_context=tls.client_context,
        )
        result = await channel.send(MESSAGE, _person("zhang.wei@example.com"))
    assert result.ok, result
    _check_mail(list(fake.messages), "zhang.wei@example.com")


async def test_smtp_implicit_tls_delivers() -> None:
    tls = self_signed_tls()
    async with smtp_server(security="ssl", tls=tls) as fake:
        channel = SmtpEmail(
            host=fake.host,
            port=fake.port,
            sender="noreply@sales.example.com",
            security="ssl",
            tls_context=tls.client_context,
        )
        result = await channel.send(MESSAGE, _person("zhang.wei@example.com"))
    assert result.ok, result
    _check_mail(list(fake.messages), "zhang.wei@example.com")


async def test_smtp_untrusted_certificate_is_not_delivered() -> None:
    tls = self_signed_tls()
    async with smtp_server(security="starttls", tls=tls) as fake:
        channel = SmtpEmail(
            host=fake.host, port=fake.port, sender="noreply@sales.example.com", timeout=5
        )
        result = await channel.send(MESSAGE, _person("zhang.wei@example.com"))
    assert not result.ok
    assert fake.messages == []


async def test_smtp_550_is_final_and_450_retryable() -> None:
    async with smtp_server() as fake:
        fake.refuse_recipient("gone@example.com")
        fake.refuse_recipient("busy@example.com", "450 4.2.1 Mailbox busy, try again later")
        channel = SmtpEmail(
            host=fake.host, port=fake.port, sender="noreply@sales.example.com", security="none"
        )
        gone = await channel.send(MESSAGE, _person("gone@example.com"))
        busy = await channel.send(MESSAGE, _person("busy@example.com"))
    assert (gone.ok, gone.retryable, gone.status_code) == (False, False, 550)
    assert "mailbox unavailable" in gone.provider_reply
    assert (busy.ok, busy.retryable, busy.status_code) == (False, True, 450)
    assert fake.messages == []


async def test_smtp_server_down_is_retryable() -> None:
    channel = SmtpEmail(
        host="127.0.0.1",
        port=free_port(),
        sender="noreply@sales.example.com",
        security="none",
        timeout=2,
    )
    result = await channel.send(MESSAGE, _person("zhang.wei@example.com"))
    assert not result.ok
    assert result.retryable
    assert result.status_code is None
