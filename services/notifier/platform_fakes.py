"""Local stand-ins for DingTalk and WeCom: real HTTP servers that check requests the way the
platforms do, for the channel tests (and any test that wants a chat platform to talk to).

Each server is a Starlette app served by uvicorn on 127.0.0.1 and a free port, for the
duration of an ``async with``::

    async with dingtalk_server(secret="SEC...") as srv:
        robot = DingTalkRobot(webhook_url=srv.webhook_url, secret="SEC...", http=..., clock=...)
        await robot.send(message, recipient)
        assert srv.received[0].verified

What each one checks:

* :func:`dingtalk_server` — ``POST /robot/send?access_token=...``: the access token (300001),
  and when a secret is set the ``timestamp`` (milliseconds, within one hour of the server's
  clock) and ``sign`` = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")) (310000);
  then the message body (40035).
* :func:`wecom_robot_server` — ``POST /cgi-bin/webhook/send?key=...``: the key (93000) and the
  body (40008 / 40058 for markdown content over 4096 bytes).
* :func:`wecom_app_server` — ``GET /cgi-bin/gettoken`` checks corp id (40013) and secret
  (40001) and issues tokens valid ``expires_in`` seconds by the server's clock;
  ``POST /cgi-bin/message/send`` checks the token (41001 missing, 40014 unknown, 42001
  expired), the agent id (40056) and the addressee (81013 when ``known_users`` excludes it).

Every request lands in ``srv.received`` as a :class:`SentRequest` (``verified`` is whether it
passed the platform's checks, ``notes`` says what did not). ``srv.fail_next(errcode, times=N)``
makes the next N checked requests answer that errcode (45009, 130101, 42001, -1...) and
``srv.fail_next_http(status, times=N)`` answer a bare HTTP status; ``errcode=`` on the
factory makes every checked send (not gettoken) answer that errcode. ``await srv.stop()`` shuts the
server down early (to test network failures); leaving the ``async with`` does it anyway.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import secrets
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from salesops.clock import Clock, SystemClock
from services.notifier.messages import SentRequest

__all__ = [
    "DingTalkFake",
    "FakePlatformServer",
    "WeComAppFake",
    "WeComRobotFake",
    "dingtalk_server",
    "wecom_app_server",
    "wecom_robot_server",
]

ERRMSGS: dict[int, str] = {
    0: "ok",
    -1: "system busy",
    130101: "send too fast, exceed 20 times per minute",
    410100: "send too fast, exceed 20 times per minute",
    300001: "token is not exist",
    310000: "sign not match",
    40035: "missing parameter",
    93000: "invalid webhook url",
    40008: "invalid message type",
    40058: "markdown.content exceed max length 4096",
    45009: "api freq out of limit",
    40001: "invalid credential",
    40013: "invalid corpid",
    40014: "invalid access_token",
    41001: "access_token missing",
    42001: "access_token expired",
    40056: "invalid agentid",
    81013: "user & party & tag all invalid",
}

MAIN_ROUTE = "send"


@dataclass
class _Injected:
    remaining: int
    errcode: int = 0
    errmsg: str = ""
    http_status: int = 200


@dataclass
class _Check:
    """The outcome of checking one request: an errcode to answer, or 0 and the JSON body."""

    errcode: int = 0
    errmsg: str = ""
    notes: list[str] = field(default_factory=list)
    body: Any = None


def _errmsg(errcode: int, errmsg: str | None = None) -> str:
    return errmsg if errmsg is not None else ERRMSGS.get(errcode, f"error {errcode}")


def _reply(errcode: int, errmsg: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": _errmsg(errcode, errmsg), **extra})


def _json_body(raw: bytes, check: _Check) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        check.notes.append(f"body is not JSON: {exc}")
        return None


class FakePlatformServer:
    """What the three fakes share: the uvicorn lifecycle, the record and injected failures."""

    def __init__(self, *, errcode: int = 0, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.default_errcode = errcode
        self.received: list[SentRequest] = []
        self.url = ""
        self._injected: dict[str, deque[_Injected]] = {}
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    # -- what tests steer

    def fail_next(
        self, errcode: int, *, times: int = 1, errmsg: str | None = None, route: str = MAIN_ROUTE
    ) -> None:
        """Answer ``errcode`` (HTTP 200) to the next ``times`` requests that pass the checks."""
        self._injected.setdefault(route, deque()).append(
            _Injected(remaining=times, errcode=errcode, errmsg=_errmsg(errcode, errmsg))
        )

    def fail_next_http(self, status: int, *, times: int = 1, route: str = MAIN_ROUTE) -> None:
        """Answer a bare HTTP ``status`` to the next ``times`` requests that pass the checks."""
        self._injected.setdefault(route, deque()).append(
            _Injected(remaining=times, http_status=status)
        )

    @property
    def verified(self) -> list[SentRequest]:
        return [r for r in self.received if r.verified]

    def bodies(self) -> list[Any]:
        """The JSON bodies received, in order (None for a body that is not JSON)."""
        out: list[Any] = []
        for r in self.received:
            try:
                out.append(json.loads(r.body) if r.body else None)
            except ValueError:
                out.append(None)
        return out

    # -- lifecycle

    def routes(self) -> list[Route]:
        raise NotImplementedError

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if self._task.done():
                    self._task.result()
                    raise RuntimeError("the fake platform server exited before it started")
                await asyncio.sleep(0.005)
        except BaseException:
            await self.stop()
            sock.close()
            raise
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Shut the server down; connections to :attr:`url` are refused afterwards."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- request handling

    async def _handle(
        self, request: Request, route: str, check: Callable[[Request, bytes], Awaitable[_Check]]
    ) -> Response:
        raw = await request.body()
        outcome = await check(request, raw)
        self.received.append(
            SentRequest(
                path=request.url.path,
                query=dict(request.query_params),
                headers=dict(request.headers),
                body=raw,
                verified=outcome.errcode == 0,
                notes=outcome.notes,
            )
        )
        if outcome.errcode != 0:
            return _reply(outcome.errcode, outcome.errmsg or None)
        queue = self._injected.get(route)
        if queue:
            injected = queue[0]
            injected.remaining -= 1
            if injected.remaining <= 0:
                queue.popleft()
            if injected.http_status != 200:
                return PlainTextResponse(
                    f"injected HTTP {injected.http_status}", status_code=injected.http_status
                )
            outcome.notes.append(f"answered injected errcode {injected.errcode}")
            return _reply(injected.errcode, injected.errmsg)
        if self.default_errcode != 0 and route == MAIN_ROUTE:
            return _reply(self.default_errcode)
        return await self.success(request, route, outcome)

    async def success(self, request: Request, route: str, outcome: _Check) -> Response:
        return _reply(0)

    def now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)


@contextlib.asynccontextmanager
async def _running(fake: FakePlatformServer) -> AsyncIterator[None]:
    await fake.start()
    try:
        yield
    finally:
        await fake.stop()


# ---------------------------------------------------------------------------------- DingTalk


def _dingtalk_sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkFake(FakePlatformServer):
    """A DingTalk custom robot endpoint (one robot, one access token)."""

    TIMESTAMP_TOLERANCE = timedelta(hours=1)

    def __init__(
        self,
        *,
        secret: str | None,
        access_token: str,
        errcode: int = 0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(errcode=errcode, clock=clock)
        self.secret = secret
        self.access_token = access_token

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/robot/send?access_token={self.access_token}"

    def routes(self) -> list[Route]:
        async def send(request: Request) -> Response:
            return await self._handle(request, MAIN_ROUTE, self._check)

        return [Route("/robot/send", send, methods=["POST"])]

    async def _check(self, request: Request, raw: bytes) -> _Check:
        check = _Check()
        query = request.query_params
        if query.get("access_token") != self.access_token:
            check.notes.append("unknown access_token")
            check.errcode = 300001
            return check
        if self.secret is not None:
            timestamp, sign = query.get("timestamp"), query.get("sign")
            if not timestamp or not sign:
                check.notes.append("timestamp or sign missing")
                check.errcode, check.errmsg = 310000, "sign not match, missing timestamp or sign"
                return check
            if not timestamp.isdigit():
                check.notes.append(f"timestamp {timestamp!r} is not milliseconds")
                check.errcode, check.errmsg = 310000, "invalid timestamp"
                return check
            tolerance_ms = self.TIMESTAMP_TOLERANCE / timedelta(milliseconds=1)
            if abs(self.now_ms() - int(timestamp)) > tolerance_ms:
                check.notes.append("timestamp more than 1 hour away from the server's clock")
                check.errcode, check.errmsg = 310000, "invalid timestamp"
                return check
            if not hmac.compare_digest(sign, _dingtalk_sign(timestamp, self.secret)):
                check.notes.append("sign does not match")
                check.errcode = 310000
                return check
        body = _json_body(raw, check)
        problem = self._body_problem(body, check)
        if problem:
            check.notes.append(problem)
            check.errcode, check.errmsg = 40035, f"missing parameter: {problem}"
        check.body = body
        return check

    @staticmethod
    def _body_problem(body: Any, check: _Check) -> str | None:
        if not isinstance(body, dict):
            return "json"
        msgtype = body.get("msgtype")
        part = body.get(msgtype) if isinstance(msgtype, str) else None
        if not isinstance(part, dict):
            return f"{msgtype} (msgtype without its object)"

        def text_of(*keys: str) -> str | None:
            for key in keys:
                value = part.get(key)
                if not isinstance(value, str) or not value:
                    return None
            return str(part[keys[-1]])

        if msgtype == "text":
            text = text_of("content")
        elif msgtype == "markdown":
            text = text_of("title", "text")
        elif msgtype == "actionCard":
            text = text_of("title", "text")
            single = part.get("singleTitle") and part.get("singleURL")
            if not single and not part.get("btns"):
                return "actionCard.singleTitle/singleURL or btns"
        elif msgtype in ("link", "feedCard"):
            text = ""
        else:
            return f"msgtype {msgtype!r}"
        if text is None:
            return f"{msgtype} fields"
        at = body.get("at")
        if isinstance(at, dict):
            for key in ("atMobiles", "atUserIds"):
                for who in at.get(key) or []:
                    if f"@{who}" not in text:
                        check.notes.append(f"{key} {who} is not @-mentioned in the text")
        return None


@contextlib.asynccontextmanager
async def dingtalk_server(
    *,
    secret: str | None = None,
    access_token: str = "robot-token",
    errcode: int = 0,
    clock: Clock | None = None,
) -> AsyncIterator[DingTalkFake]:
    """A running DingTalk robot endpoint; ``srv.webhook_url`` is the robot's webhook."""
    fake = DingTalkFake(secret=secret, access_token=access_token, errcode=errcode, clock=clock)
    async with _running(fake):
        yield fake


# ------------------------------------------------------------------------------ WeCom robot

_MENTION_RE = re.compile(r"<@([^<>\s]+)>")
WECOM_MARKDOWN_MAX_BYTES = 4096


class WeComRobotFake(FakePlatformServer):
    """A WeCom group robot endpoint (one robot, one key)."""

    def __init__(self, *, key: str, errcode: int = 0, clock: Clock | None = None) -> None:
        super().__init__(errcode=errcode, clock=clock)
        self.key = key

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key={self.key}"

    def routes(self) -> list[Route]:
        async def send(request: Request) -> Response:
            return await self._handle(request, MAIN_ROUTE, self._check)

        return [Route("/cgi-bin/webhook/send", send, methods=["POST"])]

    @staticmethod
    def mentions(request: SentRequest) -> list[str]:
        """The user ids a received markdown message mentions with ``<@userid>``."""
        try:
            body = json.loads(request.body)
            return _MENTION_RE.findall(str(body["markdown"]["content"]))
        except (ValueError, KeyError, TypeError):
            return []

    async def _check(self, request: Request, raw: bytes) -> _Check:
        check = _Check()
        if request.query_params.get("key") != self.key:
            check.notes.append("unknown key")
            check.errcode = 93000
            return check
        body = _json_body(raw, check)
        msgtype = body.get("msgtype") if isinstance(body, dict) else None
        part = body.get(msgtype) if isinstance(body, dict) and isinstance(msgtype, str) else None
        if msgtype not in ("text", "markdown", "image", "news", "file", "template_card"):
            check.notes.append(f"msgtype {msgtype!r}")
            check.errcode = 40008
        elif not isinstance(part, dict) or (
            msgtype in ("text", "markdown") and not isinstance(part.get("content"), str)
        ):
            check.notes.append(f"{msgtype}.content missing")
            check.errcode, check.errmsg = 40008, f"missing {msgtype}.content"
        elif (
            msgtype == "markdown"
            and len(str(part["content"]).encode("utf-8")) > WECOM_MARKDOWN_MAX_BYTES
        ):
            check.notes.append("markdown.content over 4096 bytes")
            check.errcode = 40058
        check.body = body
        return check


@contextlib.asynccontextmanager
async def wecom_robot_server(
    *, key: str = "robot-key", errcode: int = 0, clock: Clock | None = None
) -> AsyncIterator[WeComRobotFake]:
    """A running WeCom group robot endpoint; ``srv.webhook_url`` is the robot's webhook."""
    fake = WeComRobotFake(key=key, errcode=errcode, clock=clock)
    async with _running(fake):
        yield fake


# -------------------------------------------------------------------------------- WeCom app

GETTOKEN_ROUTE = "gettoken"


class WeComAppFake(FakePlatformServer):
    """WeCom's gettoken and message/send APIs for one corp and one application."""

    def __init__(
        self,
        *,
        corp_id: str,
        corp_secret: str,
        agent_id: int,
        expires_in: int = 7200,
        known_users: Collection[str] | None = None,
        errcode: int = 0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(errcode=errcode, clock=clock)
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.agent_id = agent_id
        self.expires_in = expires_in
        self.known_users = set(known_users) if known_users is not None else None
        self.tokens: dict[str, datetime] = {}  # token -> expiry by the server's clock
        self.tokens_issued = 0
        self._serial = itertools.count(1)

    @property
    def api_base(self) -> str:
        return self.url

    def expire_tokens(self) -> None:
        """Make every issued token expired (the next use answers 42001)."""
        past = self.clock.now() - timedelta(seconds=1)
        self.tokens = dict.fromkeys(self.tokens, past)

    def revoke_tokens(self) -> None:
        """Forget every issued token (the next use answers 40014)."""
        self.tokens.clear()

    def routes(self) -> list[Route]:
        async def gettoken(request: Request) -> Response:
            return await self._handle(request, GETTOKEN_ROUTE, self._check_gettoken)

        async def send(request: Request) -> Response:
            return await self._handle(request, MAIN_ROUTE, self._check_send)

        return [
            Route("/cgi-bin/gettoken", gettoken, methods=["GET"]),
            Route("/cgi-bin/message/send", send, methods=["POST"]),
        ]

    async def _check_gettoken(self, request: Request, raw: bytes) -> _Check:
        check = _Check()
        query = request.query_params
        if query.get("corpid") != self.corp_id:
            check.notes.append("unknown corpid")
            check.errcode = 40013
        elif query.get("corpsecret") != self.corp_secret:
            check.notes.append("wrong corpsecret")
            check.errcode = 40001
        return check

    async def _check_send(self, request: Request, raw: bytes) -> _Check:
        check = _Check()
        token = request.query_params.get("access_token")
        if not token:
            check.notes.append("access_token missing")
            check.errcode = 41001
            return check
        expiry = self.tokens.get(token)
        if expiry is None:
            check.notes.append("unknown access_token")
            check.errcode = 40014
            return check
        if self.clock.now() >= expiry:
            check.notes.append("access_token expired")
            check.errcode = 42001
            return check
        body = _json_body(raw, check)
        if not isinstance(body, dict):
            check.errcode, check.errmsg = 40035, "invalid json"
            return check
        if body.get("agentid") != self.agent_id:
            check.notes.append(f"agentid {body.get('agentid')!r}")
            check.errcode = 40056
            return check
        msgtype = body.get("msgtype")
        part = body.get(msgtype) if isinstance(msgtype, str) else None
        if (
            msgtype not in ("text", "markdown", "textcard", "news", "template_card")
            or not isinstance(part, dict)
            or (msgtype in ("text", "markdown") and not part.get("content"))
        ):
            check.notes.append(f"bad message of msgtype {msgtype!r}")
            check.errcode = 40008
            return check
        users = [u for u in str(body.get("touser") or "").split("|") if u]
        if not users or (
            self.known_users is not None and not any(u in self.known_users for u in users)
        ):
            check.notes.append("no valid touser")
            check.errcode = 81013
        check.body = body
        return check

    async def success(self, request: Request, route: str, outcome: _Check) -> Response:
        if route == GETTOKEN_ROUTE:
            token = f"token-{next(self._serial)}-{secrets.token_hex(8)}"
            self.tokens[token] = self.clock.now() + timedelta(seconds=self.expires_in)
            self.tokens_issued += 1
            return _reply(0, access_token=token, expires_in=self.expires_in)
        body = outcome.body if isinstance(outcome.body, dict) else {}
        users = [u for u in str(body.get("touser") or "").split("|") if u]
        invalid = [u for u in users if self.known_users is not None and u not in self.known_users]
        return _reply(0, invaliduser="|".join(invalid), msgid=secrets.token_hex(12))


@contextlib.asynccontextmanager
async def wecom_app_server(
    *,
    corp_id: str = "ww-test-corp",
    corp_secret: str = "app-secret",
    agent_id: int = 1000002,
    expires_in: int = 7200,
    known_users: Collection[str] | None = None,
    errcode: int = 0,
    clock: Clock | None = None,
) -> AsyncIterator[WeComAppFake]:
    """A running WeCom API for one application; ``srv.api_base`` is its base URL."""
    fake = WeComAppFake(
        corp_id=corp_id,
        corp_secret=corp_secret,
        agent_id=agent_id,
        expires_in=expires_in,
        known_users=known_users,
        errcode=errcode,
        clock=clock,
    )
    async with _running(fake):
        yield fake
