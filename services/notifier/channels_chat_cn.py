"""Channels for the Chinese chat platforms: DingTalk group robots, WeCom group robots and
WeCom application messages.

Each class implements :class:`services.notifier.messages.Channel`. None raises for a
platform's refusal or a network failure; :meth:`send` returns a :class:`DeliveryResult`
whose ``retryable`` flag tells the delivery engine whether to try again:

* network errors (connection refused, timeouts...), HTTP 5xx and HTTP 429 are retryable;
* the platforms' "system busy" (-1) and rate-limit errcodes are retryable
  (DingTalk 130101 / 410100 "send too fast", WeCom 45009 "api freq out of limit");
* anything else the platform refuses (bad signature, unknown robot key, invalid user,
  malformed message, other 4xx) is final.

Platform protocols, as documented by DingTalk and WeCom:

* DingTalk custom robot ("自定义机器人"), signed: ``POST <webhook>&timestamp=<ms>&sign=<s>``
  where ``s = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))``.
  The reply is ``{"errcode": 0, "errmsg": "ok"}``; HTTP 200 with errcode != 0 is a failure.
* WeCom group robot: ``POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`` with a
  markdown body; a markdown message mentions a member with ``<@userid>``.
* WeCom application message: ``GET /cgi-bin/gettoken?corpid=&corpsecret=`` gives an
  ``access_token`` valid ``expires_in`` seconds, then
  ``POST /cgi-bin/message/send?access_token=`` with ``touser``/``agentid``/``markdown``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from salesops.clock import Clock
from services.notifier.messages import DeliveryResult, OutgoingMessage, Recipient

__all__ = [
    "DINGTALK_RETRYABLE_ERRCODES",
    "WECOM_RETRYABLE_ERRCODES",
    "WECOM_TOKEN_INVALID_ERRCODES",
    "DingTalkRobot",
    "WeComApp",
    "WeComRobot",
    "dingtalk_sign",
]

#: DingTalk: -1 system busy; 130101 / 410100 send too fast (20 messages a minute per robot).
DINGTALK_RETRYABLE_ERRCODES = frozenset({-1, 130101, 410100})
#: WeCom: -1 system busy; 45009 api freq out of limit (20 messages a minute per robot).
WECOM_RETRYABLE_ERRCODES = frozenset({-1, 45009})
#: WeCom: 40014 invalid access_token, 42001 access_token expired -> fetch a new token.
WECOM_TOKEN_INVALID_ERRCODES = frozenset({40014, 42001})

#: WeCom caps a markdown ``content`` at 4096 bytes (UTF-8).
WECOM_MARKDOWN_MAX_BYTES = 4096
#: Label of the link to the record in the product.
OPEN_LABEL = "查看 / Open"

_REPLY_MAX_CHARS = 2000
_MOBILE_RE = re.compile(r"^\+?[0-9][0-9-]{5,19}$")


# --------------------------------------------------------------------------- shared helpers


def _reply_text(response: httpx.Response) -> str:
    return response.text[:_REPLY_MAX_CHARS]


def _network_failure(exc: Exception) -> DeliveryResult:
    """A request that never got an HTTP answer."""
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        # A misconfigured endpoint: retrying cannot help.
        return DeliveryResult(ok=False, provider_reply=f"bad endpoint: {exc}", retryable=False)
    return DeliveryResult(
        ok=False, provider_reply=f"network error: {type(exc).__name__}: {exc}", retryable=True
    )


def _http_failure(response: httpx.Response) -> DeliveryResult | None:
    """A failure judged on the HTTP status alone, or None when the status is 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    retryable = status >= 500 or status == 429
    return DeliveryResult(
        ok=False,
        provider_reply=f"HTTP {status}: {_reply_text(response)}",
        retryable=retryable,
        status_code=status,
    )


def _parse_errcode_reply(response: httpx.Response) -> tuple[int | None, dict[str, Any]]:
    """The ``errcode`` of a JSON reply (None when the body is not such a reply) and the body."""
    try:
        body = response.json()
    except ValueError:
        return None, {}
    if not isinstance(body, dict):
        return None, {}
    errcode = body.get("errcode")
    if isinstance(errcode, bool) or not isinstance(errcode, int):
        if isinstance(errcode, str) and errcode.lstrip("-").isdigit():
            return int(errcode), body
        return None, body
    return errcode, body


def _judge_errcode_reply(
    response: httpx.Response, retryable_codes: frozenset[int]
) -> DeliveryResult:
    """The outcome of an HTTP 2xx reply of the ``{"errcode", "errmsg"}`` kind."""
    errcode, _ = _parse_errcode_reply(response)
    text = _reply_text(response)
    if errcode is None:
        # 2xx but not the platform's JSON: a gateway or proxy answered; try again later.
        return DeliveryResult(
            ok=False,
            provider_reply=f"unexpected reply: {text}",
            retryable=True,
            status_code=response.status_code,
        )
    if errcode == 0:
        return DeliveryResult(ok=True, provider_reply=text, status_code=response.status_code)
    return DeliveryResult(
        ok=False,
        provider_reply=text,
        retryable=errcode in retryable_codes,
        status_code=response.status_code,
    )


def _with_link(markdown: str, link: str | None) -> str:
    if not link:
        return markdown
    return f"{markdown.rstrip()}\n\n[{OPEN_LABEL}]({link})"


def _truncate_utf8(text: str, max_bytes: int, suffix: str = "") -> str:
    """``text`` cut so that ``text + suffix`` fits in ``max_bytes`` UTF-8 bytes."""
    budget = max_bytes - len(suffix.encode("utf-8"))
    encoded = text.encode("utf-8")
    if len(encoded) <= budget:
        return text + suffix
    cut = encoded[: max(budget - 3, 0)].decode("utf-8", errors="ignore")
    return cut + "..." + suffix


# ---------------------------------------------------------------------------------- DingTalk


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk's robot signature before URL-encoding: base64(HMAC-SHA256(secret, ts\\nsecret))."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkRobot:
    """A DingTalk group's custom robot ("自定义机器人"), optionally signed ("加签").

    Message shape: when the recipient can be @-mentioned (a mobile number, or a DingTalk user
    id in ``recipient.address``) the message is ``markdown`` with ``@<mobile>`` /
    ``@<userid>`` appended to the text and ``at.atMobiles`` / ``at.atUserIds`` set, and
    ``message.link`` becomes a ``[查看 / Open](link)`` line in the text: DingTalk only honours
    ``at`` for text and markdown messages. When nobody can be mentioned and the message has
    a link, it is an ``actionCard`` with the single button "查看 / Open".
    """

    name = "dingtalk"

    def __init__(
        self,
        *,
        webhook_url: str,
        secret: str | None,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> None:
        self._webhook_url = webhook_url
        self._secret = secret or None
        self._http = http
        self._clock = clock

    def robot_key(self, recipient: Recipient) -> str:
        # One robot per group: the robot's rate limit is shared by everybody it mentions.
        return self._webhook_url

    def signed_url(self) -> str:
        """The webhook URL with ``timestamp`` and ``sign`` appended when a secret is set."""
        if self._secret is None:
            return self._webhook_url
        timestamp_ms = int(self._clock.now().timestamp() * 1000)
        sign = urllib.parse.quote_plus(dingtalk_sign(timestamp_ms, self._secret))
        separator = "&" if urllib.parse.urlsplit(self._webhook_url).query else "?"
        return f"{self._webhook_url}{separator}timestamp={timestamp_ms}&sign={sign}"

    def build_body(self, message: OutgoingMessage, recipient: Recipient) -> dict[str, Any]:
        """The JSON body DingTalk receives for ``message`` to ``recipient``."""
        mobile = recipient.mobile
        if not mobile and _MOBILE_RE.match(recipient.address.strip()):
            mobile = recipient.address.strip()
        user_id = None if mobile else (recipient.address.strip() or None)
        if mobile is None and user_id is None and message.link:
            return {
                "msgtype": "actionCard",
                "actionCard": {
                    "title": message.title,
                    "text": message.markdown,
                    "btnOrientation": "0",
                    "singleTitle": OPEN_LABEL,
                    "singleURL": message.link,
                },
            }
        text = _with_link(message.markdown, message.link)
        at: dict[str, Any] = {"isAtAll": False}
        if mobile:
            text = f"{text}\n\n@{mobile}"
            at["atMobiles"] = [mobile]
        elif user_id:
            text = f"{text}\n\n@{user_id}"
            at["atUserIds"] = [user_id]
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": text},
            "at": at,
        }

    async def send(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult:
        body = self.build_body(message, recipient)
        try:
            response = await self._http.post(self.signed_url(), json=body)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return _network_failure(exc)
        return _http_failure(response) or _judge_errcode_reply(
            response, DINGTALK_RETRYABLE_ERRCODES
        )


# ------------------------------------------------------------------------------ WeCom robot


def _wecom_markdown(message: OutgoingMessage, user_id: str | None) -> str:
    mention = f"\n<@{user_id}>" if user_id else ""
    return _truncate_utf8(
        _with_link(message.markdown, message.link), WECOM_MARKDOWN_MAX_BYTES, mention
    )


class WeComRobot:
    """A WeCom (企业微信) group robot: a markdown message mentioning ``<@userid>``.

    ``recipient.address`` is the WeCom user id; ``message.link`` becomes a
    ``[查看 / Open](link)`` line. The content is cut to WeCom's 4096-byte markdown limit.
    """

    name = "wecom"

    def __init__(self, *, webhook_url: str, http: httpx.AsyncClient) -> None:
        self._webhook_url = webhook_url
        self._http = http

    def robot_key(self, recipient: Recipient) -> str:
        return self._webhook_url

    def build_body(self, message: OutgoingMessage, recipient: Recipient) -> dict[str, Any]:
        user_id = recipient.address.strip() or None
        return {"msgtype": "markdown", "markdown": {"content": _wecom_markdown(message, user_id)}}

    async def send(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult:
        body = self.build_body(message, recipient)
        try:
            response = await self._http.post(self._webhook_url, json=body)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return _network_failure(exc)
        return _http_failure(response) or _judge_errcode_reply(response, WECOM_RETRYABLE_ERRCODES)


# -------------------------------------------------------------------------------- WeCom app


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: datetime


class WeComApp:
    """A WeCom self-built application (自建应用) sending a markdown message to one member.

    The access token is fetched once, cached, and fetched again
    :attr:`REFRESH_MARGIN` before it expires (by the injected clock) or when WeCom answers
    40014 (invalid) / 42001 (expired); the message is then sent once more with the new token.
    """

    name = "wecom_app"
    REFRESH_MARGIN = timedelta(minutes=5)

    def __init__(
        self,
        *,
        api_base: str,
        corp_id: str,
        corp_secret: str,
        agent_id: int,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> None:
        self._api_base = api_base.rstrip("/")
        self._corp_id = corp_id
        self._corp_secret = corp_secret
        self._agent_id = agent_id
        self._http = http
        self._clock = clock
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self.token_fetches = 0

    def robot_key(self, recipient: Recipient) -> str:
        return f"wecom-app:{self._agent_id}"

    def build_body(self, message: OutgoingMessage, recipient: Recipient) -> dict[str, Any]:
        return {
            "touser": recipient.address,
            "msgtype": "markdown",
            "agentid": self._agent_id,
            "markdown": {"content": _wecom_markdown(message, None)},
        }

    def invalidate_token(self) -> None:
        self._token = None

    async def _access_token(self, *, stale: str | None = None) -> str | DeliveryResult:
        """A valid token, or the failure that prevented fetching one.

        ``stale`` is a token WeCom just refused: it is replaced unless another task has
        already done so.
        """
        async with self._token_lock:
            token = self._token
            if token is not None and token.value != stale and self._clock.now() < token.refresh_at:
                return token.value
            self._token = None
            try:
                response = await self._http.get(
                    f"{self._api_base}/cgi-bin/gettoken",
                    params={"corpid": self._corp_id, "corpsecret": self._corp_secret},
                )
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                return _network_failure(exc)
            self.token_fetches += 1
            failure = _http_failure(response)
            if failure is not None:
                return failure
            errcode, body = _parse_errcode_reply(response)
            value = body.get("access_token")
            if errcode not in (0, None) or not isinstance(value, str) or not value:
                if errcode is None or errcode == 0:
                    return DeliveryResult(
                        ok=False,
                        provider_reply=f"gettoken: unexpected reply: {_reply_text(response)}",
                        retryable=True,
                        status_code=response.status_code,
                    )
                # 40001 bad secret, 40013 bad corp id...: final; -1 / 45009: retry later.
                return DeliveryResult(
                    ok=False,
                    provider_reply=f"gettoken: {_reply_text(response)}",
                    retryable=errcode in WECOM_RETRYABLE_ERRCODES,
                    status_code=response.status_code,
                )
            expires_in = body.get("expires_in")
            lifetime = (
                timedelta(seconds=expires_in)
                if isinstance(expires_in, int) and expires_in > 0
                else timedelta(hours=2)
            )
            margin = min(self.REFRESH_MARGIN, lifetime / 2)
            self._token = _Token(value=value, refresh_at=self._clock.now() + lifetime - margin)
            return value

    async def _post_message(self, token: str, body: dict[str, Any]) -> httpx.Response:
        return await self._http.post(
            f"{self._api_base}/cgi-bin/message/send", params={"access_token": token}, json=body
        )

    async def send(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult:
        body = self.build_body(message, recipient)
        token = await self._access_token()
        if isinstance(token, DeliveryResult):
            return token
        try:
            response = await self._post_message(token, body)
            errcode, _ = _parse_errcode_reply(response)
            if response.is_success and errcode in WECOM_TOKEN_INVALID_ERRCODES:
                token = await self._access_token(stale=token)
                if isinstance(token, DeliveryResult):
                    return token
                response = await self._post_message(token, body)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return _network_failure(exc)
        failure = _http_failure(response)
        if failure is not None:
            return failure
        result = _judge_errcode_reply(response, WECOM_RETRYABLE_ERRCODES)
        if result.ok:
            # errcode 0 can still name the addressee in "invaliduser": nobody got it.
            _, reply = _parse_errcode_reply(response)
            invalid = str(reply.get("invaliduser") or "")
            if recipient.address and recipient.address in invalid.split("|"):
                return DeliveryResult(
                    ok=False,
                    provider_reply=result.provider_reply,
                    retryable=False,
                    status_code=result.status_code,
                )
        return result
