"""Real local stand-ins for Feishu, a signed-webhook receiver and an SMTP server (tests only).

Each fake is a real server on 127.0.0.1 and a free port, started and stopped by an async
context manager:

* :func:`feishu_server` — a Starlette app on uvicorn speaking the Feishu custom-bot protocol:
  checks the timestamp is within one hour and the sign exactly as Feishu computes it, answers
  ``{"code": 0, "msg": "success"}`` or a scripted code for the next N requests.
* :func:`webhook_receiver` — checks ``X-Salesops-Signature`` / ``X-Salesops-Timestamp``.
* :func:`smtp_server` — an ``aiosmtpd`` controller (plain, STARTTLS or implicit TLS) that
  parses each message with the standard library and can refuse chosen recipients.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import ssl
import tempfile
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Literal

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from salesops.clock import Clock, SystemClock
from services.notifier.channels_other import (
    FEISHU_SIGN_MISMATCH,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
    feishu_sign,
)
from services.notifier.messages import SentRequest

__all__ = [
    "FeishuFake",
    "ReceivedMail",
    "ScriptedReply",
    "SmtpFake",
    "TlsMaterial",
    "WebhookFake",
    "feishu_server",
    "free_port",
    "self_signed_tls",
    "smtp_server",
    "webhook_receiver",
]

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ScriptedReply:
    """An answer to give instead of the normal one for the next ``times`` requests."""

    body: dict[str, Any]
    http_status: int = 200
    times: int = 1


async def _record(request: Request, verified: bool, notes: list[str]) -> SentRequest:
    return SentRequest(
        path=request.url.path,
        query=dict(request.query_params),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
        verified=verified,
        notes=notes,
    )


@contextlib.asynccontextmanager
async def _serve(app: Starlette) -> AsyncIterator[str]:
    """Run ``app`` on uvicorn on a pre-bound free port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # surfaces the start-up error
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
        sock.close()


# --------------------------------------------------------------------------- Feishu


class FeishuFake:
    """State of the Feishu-like server: received requests and scripted answers."""

    TOKEN_PATH = "/open-apis/bot/v2/hook/"

    def __init__(self, *, token: str, secret: str | None, clock: Clock) -> None:
        self.token = token
        self.secret = secret
        self.clock = clock
        self.base_url = ""
        self.requests: list[SentRequest] = []
        self._script: deque[ScriptedReply] = deque()

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}{self.TOKEN_PATH}{self.token}"

    def answer_next(
        self, code: int, msg: str = "scripted failure", *, times: int = 1, http_status: int = 200
    ) -> None:
        """Answer ``{"code": code, "msg": msg}`` to the next ``times`` (otherwise valid) posts."""
        self._script.append(
            ScriptedReply({"code": code, "msg": msg, "data": {}}, http_status, times)
        )

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The cards of the requests that were verified and accepted."""
        out: list[dict[str, Any]] = []
        for r in self.requests:
            if r.verified and "accepted" in r.notes:
                card = json.loads(r.body).get("card")
                if isinstance(card, dict):
                    out.append(card)
        return out

    def _check(self, token: str, payload: Any) -> tuple[dict[str, Any] | None, list[str]]:
        """``(error reply or None, notes)``: Feishu's checks, in Feishu's order."""
        notes: list[str] = []
        if token != self.token:
            notes.append("unknown token")
            invalid = "param invalid: incoming webhook access token invalid"
            return {"code": 19001, "msg": invalid, "data": {}}, notes
        if not isinstance(payload, dict):
            notes.append("body is not a JSON object")
            return {"code": 9499, "msg": "Bad Request", "data": {}}, notes
        if self.secret is not None:
            ts, sign = payload.get("timestamp"), payload.get("sign")
            mismatch = {
                "code": FEISHU_SIGN_MISMATCH,
                "msg": "sign match fail or timestamp is not within one hour from current time",
                "data": {},
            }
            try:
                ts_int = int(str(ts))
            except ValueError:
                notes.append("timestamp missing or not an integer")
                return mismatch, notes
            now = self.clock.now()
            if abs(now - datetime.fromtimestamp(ts_int, UTC)) > timedelta(hours=1):
                notes.append("timestamp not within one hour")
                return mismatch, notes
            expected = feishu_sign(str(ts), self.secret)
            if not isinstance(sign, str) or not hmac.compare_digest(sign, expected):
                notes.append("sign mismatch")
                return mismatch, notes
            notes.append("sign ok")
        msg_type = payload.get("msg_type")
        if msg_type == "interactive":
            if not isinstance(payload.get("card"), dict):
                notes.append("interactive without card")
                return {"code": 19002, "msg": "params error, card is required", "data": {}}, notes
        elif msg_type not in ("text", "post", "image", "share_chat"):
            notes.append(f"unsupported msg_type {msg_type!r}")
            return {"code": 19002, "msg": "params error, msg_type need", "data": {}}, notes
        return None, notes

    async def handle(self, request: Request) -> Response:
        token = request.path_params["token"]
        raw = await request.body()
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = None
        error, notes = self._check(token, payload)
        verified = error is None
        if error is not None:
            self.requests.append(await _record(request, verified, notes))
            return JSONResponse(error)
        if self._script:
            scripted = self._script[0]
            scripted.times -= 1
            if scripted.times <= 0:
                self._script.popleft()
            notes.append(f"scripted {scripted.body.get('code')}")
            self.requests.append(await _record(request, verified, notes))
            return JSONResponse(scripted.body, status_code=scripted.http_status)
        notes.append("accepted")
        self.requests.append(await _record(request, verified, notes))
        return JSONResponse(
            {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}
        )


@contextlib.asynccontextmanager
async def feishu_server(
    *, token: str = "test-token", secret: str | None = "feishu-secret", clock: Clock | None = None
) -> AsyncIterator[FeishuFake]:
    """A running Feishu-like custom-bot endpoint; ``fake.webhook_url`` is the bot's URL."""
    fake = FeishuFake(token=token, secret=secret, clock=clock or SystemClock())
    app = Starlette(
        routes=[Route(FeishuFake.TOKEN_PATH + "{token}", fake.handle, methods=["POST"])]
    )
    async with _serve(app) as base_url:
        fake.base_url = base_url
        yield fake


# --------------------------------------------------------------------------- webhook


class WebhookFake:
    """State of the signed-webhook receiver."""

    PATH = "/hooks/salesops"

    def __init__(self, *, secret: str, clock: Clock, tolerance: timedelta) -> None:
        self.secret = secret
        self.clock = clock
        self.tolerance = tolerance
        self.base_url = ""
        self.requests: list[SentRequest] = []
        self._script: deque[ScriptedReply] = deque()

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.PATH}"

    def answer_next(
        self, http_status: int, body: dict[str, Any] | None = None, *, times: int = 1
    ) -> None:
        """Answer ``http_status`` to the next ``times`` correctly signed requests."""
        self._script.append(ScriptedReply(body or {"error": "scripted"}, http_status, times))

    @property
    def payloads(self) -> list[dict[str, Any]]:
        """Bodies of the verified requests that were answered 2xx."""
        return [json.loads(r.body) for r in self.requests if r.verified and "accepted" in r.notes]

    def _verify(self, request: Request, body: bytes) -> list[str]:
        """Problems with the signature (empty when it verifies)."""
        ts = request.headers.get(WEBHOOK_TIMESTAMP_HEADER)
        sig = request.headers.get(WEBHOOK_SIGNATURE_HEADER)
        if not ts or not sig:
            return ["signature headers missing"]
        try:
            sent = datetime.fromtimestamp(int(ts), UTC)
        except ValueError:
            return ["timestamp not an integer"]
        if abs(self.clock.now() - sent) > self.tolerance:
            return ["timestamp outside tolerance"]
        mac = hmac.new(self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(sig, "sha256=" + mac.hexdigest()):
            return ["signature mismatch"]
        return []

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        problems = self._verify(request, body)
        if problems:
            self.requests.append(await _record(request, False, problems))
            return JSONResponse({"error": problems[0]}, status_code=401)
        notes = ["signature ok"]
        if self._script:
            scripted = self._script[0]
            scripted.times -= 1
            if scripted.times <= 0:
                self._script.popleft()
            notes.append(f"scripted {scripted.http_status}")
            self.requests.append(await _record(request, True, notes))
            return JSONResponse(scripted.body, status_code=scripted.http_status)
        notes.append("accepted")
        self.requests.append(await _record(request, True, notes))
        return JSONResponse({"received": True})


@contextlib.asynccontextmanager
async def webhook_receiver(
    *, secret: str = "webhook-secret", clock: Clock | None = None, tolerance_seconds: int = 300
) -> AsyncIterator[WebhookFake]:
    """A running HMAC-verifying webhook receiver; ``fake.url`` is where to POST."""
    fake = WebhookFake(
        secret=secret, clock=clock or SystemClock(), tolerance=timedelta(seconds=tolerance_seconds)
    )
    app = Starlette(routes=[Route(WebhookFake.PATH, fake.handle, methods=["POST"])])
    async with _serve(app) as base_url:
        fake.base_url = base_url
        yield fake


# --------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class ReceivedMail:
    """One message the SMTP fake accepted, parsed with the standard library."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    def part(self, content_type: str) -> str:
        """The decoded body of the first part with ``content_type`` (e.g. ``text/html``)."""
        for p in self.message.walk():
            if p.get_content_type() == content_type and isinstance(p, EmailMessage):
                content = p.get_content()
                return content if isinstance(content, str) else content.decode()
        raise KeyError(content_type)


@dataclass
class SmtpFake:
    """State of the SMTP server: received mail and which recipients to refuse."""

    host: str
    port: int
    messages: list[ReceivedMail] = field(default_factory=list)
    # address -> full SMTP reply, e.g. "550 5.1.1 mailbox unavailable"
    refuse: dict[str, str] = field(default_factory=dict)

    def refuse_recipient(
        self, address: str, reply: str = "550 5.1.1 Requested action not taken: mailbox unavailable"
    ) -> None:
        self.refuse[address.lower()] = reply

    # aiosmtpd handler hooks (called on the controller's thread and loop)
    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.refuse.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode("utf-8")
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                message=parsed,
                raw=raw,
            )
        )
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class TlsMaterial:
    """A self-signed certificate for 127.0.0.1/localhost and the contexts that use it."""

    cert_pem: bytes
    server_context: ssl.SSLContext
    client_context: ssl.SSLContext


def self_signed_tls() -> TlsMaterial:
    """Generate a throw-away certificate (needs the ``cryptography`` package)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(cert_pem)
        with open(key_path, "wb") as f:
            f.write(key_pem)
        server_context.load_cert_chain(cert_path, key_path)
    client_context = ssl.create_default_context(cadata=cert_pem.decode("ascii"))
    return TlsMaterial(cert_pem, server_context, client_context)


@contextlib.asynccontextmanager
async def smtp_server(
    *,
    security: Literal["none", "starttls", "ssl"] = "none",
    tls: TlsMaterial | None = None,
) -> AsyncIterator[SmtpFake]:
    """A running aiosmtpd server on 127.0.0.1; ``fake.messages`` collects what arrived.

    ``starttls`` requires STARTTLS before MAIL; ``ssl`` wraps the socket (implicit TLS).
    Both need ``tls`` (see :func:`self_signed_tls`).
    """
    if security != "none" and tls is None:
        raise ValueError(f"security={security!r} needs TLS material")
    port = free_port()
    fake = SmtpFake(host=HOST, port=port)
    kwargs: dict[str, Any] = {}
    if security == "starttls" and tls is not None:
        kwargs = {"tls_context": tls.server_context, "require_starttls": True}
    elif security == "ssl" and tls is not None:
        kwargs = {"ssl_context": tls.server_context}
    controller = Controller(fake, hostname=HOST, port=port, server_hostname="localhost", **kwargs)
    await asyncio.to_thread(controller.start)
    try:
        yield fake
    finally:
        await asyncio.to_thread(controller.stop)
