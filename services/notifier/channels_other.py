"""Channel adapters for Feishu/Lark custom bots, signed HTTP webhooks and SMTP e-mail.

Every adapter implements :class:`services.notifier.messages.Channel`: it never raises for a
platform's refusal or a network failure, it returns a :class:`DeliveryResult` whose
``retryable`` flag tells a transient failure (network, rate limit, 5xx, SMTP 4xx) from a final
one (bad signature, 4xx, SMTP 5xx).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any, Literal

import aiosmtplib
import httpx

from salesops.clock import Clock
from services.notifier.messages import DeliveryResult, OutgoingMessage, Recipient

__all__ = [
    "FEISHU_RETRYABLE_CODES",
    "FEISHU_SIGN_MISMATCH",
    "WEBHOOK_SIGNATURE_HEADER",
    "WEBHOOK_TIMESTAMP_HEADER",
    "FeishuBot",
    "SignedWebhook",
    "SmtpEmail",
    "feishu_sign",
    "webhook_signature",
]

_REPLY_LIMIT = 2000

# Feishu custom-bot reply codes: frequency limits are worth retrying later; 19021 (sign
# mismatch / timestamp outside one hour) and every other non-zero code are final.
FEISHU_RETRYABLE_CODES: frozenset[int] = frozenset({9499, 11232})
FEISHU_SIGN_MISMATCH = 19021

WEBHOOK_SIGNATURE_HEADER = "X-Salesops-Signature"
WEBHOOK_TIMESTAMP_HEADER = "X-Salesops-Timestamp"


def _clip(text: str) -> str:
    return text if len(text) <= _REPLY_LIMIT else text[:_REPLY_LIMIT] + "…"


def _http_retryable(status: int) -> bool:
    return status >= 500 or status in (408, 425, 429)


def feishu_sign(timestamp: str, secret: str) -> str:
    """Feishu's custom-bot signature: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")).

    Unlike DingTalk the string-to-sign is the HMAC *key* and the message is empty.
    """
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Salesops-Signature`` value: ``sha256=<hex HMAC-SHA256(secret, ts + "." + body)>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class FeishuBot:
    """A Feishu/Lark group custom bot (``.../open-apis/bot/v2/hook/<token>``), interactive cards."""

    name = "feishu"
    retryable_codes: frozenset[int] = FEISHU_RETRYABLE_CODES

    def __init__(
        self, *, webhook_url: str, secret: str | None, http: httpx.AsyncClient, clock: Clock
    ) -> None:
        self._url = webhook_url
        self._secret = secret
        self._http = http
        self._clock = clock

    def robot_key(self, recipient: Recipient) -> str:
        return self._url

    def card(self, message: OutgoingMessage, recipient: Recipient) -> dict[str, Any]:
        """The interactive card: header title, lark_md body mentioning the recipient, a button."""
        mention = f"<at id={recipient.address}></at>" if recipient.address else ""
        body = f"{mention} {message.markdown}" if mention else message.markdown
        elements: list[dict[str, Any]] = [
            {"tag": "div", "text": {"tag": "lark_md", "content": body}},
        ]
        if message.link:
            elements.append(
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": "查看详情"},
                            "type": "danger" if message.urgent else "primary",
                            "url": message.link,
                        }
                    ],
                }
            )
        return {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": message.title},
                "template": "red" if message.urgent else "blue",
            },
            "elements": elements,
        }

    def payload(self, message: OutgoingMessage, recipient: Recipient) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if self._secret:
            timestamp = str(int(self._clock.now().timestamp()))
            payload["timestamp"] = timestamp
            payload["sign"] = feishu_sign(timestamp, self._secret)
        payload["msg_type"] = "interactive"
        payload["card"] = self.card(message, recipient)
        return payload

    async def send(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult:
        body = _json_bytes(self.payload(message, recipient))
        try:
            response = await self._http.post(
                self._url,
                content=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            return DeliveryResult(
                ok=False, provider_reply=f"{type(exc).__name__}: {exc}", retryable=True
            )
        reply = _clip(response.text)
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return DeliveryResult(
                ok=False,
                provider_reply=reply,
                retryable=_http_retryable(status),
                status_code=status,
            )
        # Current replies carry ``code``; older ones ``StatusCode``.
        raw_code = data.get("code", data.get("StatusCode"))
        try:
            code = int(raw_code) if raw_code is not None else None
        except (TypeError, ValueError):
            code = None
        if code == 0 and 200 <= status < 300:
            return DeliveryResult(ok=True, provider_reply=reply, status_code=status)
        retryable = _http_retryable(status) or (code is not None and code in self.retryable_codes)
        return DeliveryResult(
            ok=False, provider_reply=reply, retryable=retryable, status_code=status
        )


class SignedWebhook:
    """POSTs JSON to a URL with a Stripe/GitHub-style HMAC signature header."""

    name = "webhook"

    def __init__(self, *, url: str, secret: str, http: httpx.AsyncClient, clock: Clock) -> None:
        self._url = url
        self._secret = secret
        self._http = http
        self._clock = clock

    def robot_key(self, recipient: Recipient) -> str:
        return self._url

    @staticmethod
    def payload(message: OutgoingMessage, recipient: Recipient) -> dict[str, Any]:
        return {
            "title": message.title,
            "text": message.text,
            "link": message.link,
            "urgent": message.urgent,
            "recipient": {"person_id": recipient.person_id, "name": recipient.name},
        }

    async def send(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult:
        body = _json_bytes(self.payload(message, recipient))
        timestamp = str(int(self._clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            WEBHOOK_TIMESTAMP_HEADER: timestamp,
            WEBHOOK_SIGNATURE_HEADER: webhook_signature(self._secret, timestamp, body),
        }
        try:
            response = await self._http.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return DeliveryResult(
                ok=False, provider_reply=f"{type(exc).__name__}: {exc}", retryable=True
            )
        status = response.status_code
        ok = 200 <= status < 300
        return DeliveryResult(
            ok=ok,
            provider_reply=_clip(response.text),
            retryable=not ok and _http_retryable(status),
            status_code=status,
        )


SmtpSecurity = Literal["starttls", "ssl", "none"]


class SmtpEmail:
    """E-mail over SMTP: STARTTLS (587), implicit TLS (465) or plain (local catchers)."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        security: SmtpSecurity = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
        sender_name: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"unknown SMTP security {security!r}")
        self._host = host
        self._port = port
        self._sender = sender
        self._sender_name = sender_name
        self._security: SmtpSecurity = security
        self._username = username
        self._password = password
        self._timeout = timeout
        self._tls_context = tls_context

    def robot_key(self, recipient: Recipient) -> str:
        return f"smtp:{self._host}:{self._port}"

    def build(self, message: OutgoingMessage, recipient: Recipient) -> EmailMessage:
        """multipart/alternative: a text/plain part then a text/html part, UTF-8 headers."""
        email = EmailMessage()
        email["Subject"] = message.title
        sender = self._sender
        email["From"] = formataddr((self._sender_name, sender)) if self._sender_name else sender
        email["To"] = formataddr((recipient.name, recipient.address))
        email["Date"] = formatdate(localtime=False, usegmt=True)
        domain = self._sender.rpartition("@")[2] or None
        email["Message-ID"] = make_msgid(domain=domain)
        if message.urgent:
            email["X-Priority"] = "1"
            email["Importance"] = "high"
        email.set_content(message.text, subtype="plain", charset="utf-8")
        email.add_alternative(message.html, subtype="html", charset="utf-8")
        return email

    async def send(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult:
        email = self.build(message, recipient)
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            timeout=self._timeout,
            use_tls=self._security == "ssl",
            start_tls=self._security == "starttls",
            tls_context=self._tls_context,
        )
        try:
            async with client:
                responses, reply = await client.send_message(
                    email, sender=self._sender, recipients=[recipient.address]
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            return DeliveryResult(
                ok=False,
                provider_reply=_clip(text),
                retryable=all(400 <= c < 500 for c in codes),
                status_code=codes[0] if codes else None,
            )
        except aiosmtplib.SMTPResponseException as exc:
            # 4xx: transient (greylisting, mailbox busy, too many connections); 5xx: final.
            return DeliveryResult(
                ok=False,
                provider_reply=_clip(f"{exc.code} {exc.message}"),
                retryable=not (500 <= exc.code < 600),
                status_code=exc.code,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection refused/reset, timeouts, TLS handshake failures, server disconnects.
            return DeliveryResult(
                ok=False, provider_reply=_clip(f"{type(exc).__name__}: {exc}"), retryable=True
            )
        refused = {addr: r for addr, r in responses.items() if not 200 <= r.code < 300}
        if refused:
            text = "; ".join(f"{a}: {r.code} {r.message}" for a, r in refused.items())
            first = next(iter(refused.values())).code
            return DeliveryResult(
                ok=False,
                provider_reply=_clip(text),
                retryable=400 <= first < 500,
                status_code=first,
            )
        return DeliveryResult(ok=True, provider_reply=_clip(reply), status_code=250)
