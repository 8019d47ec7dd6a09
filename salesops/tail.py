"""``salesops events tail``: the events on NATS, one line each, as they are published.

Live it is a plain core NATS subscription: it sees every event published on the subject
whichever stream keeps it, costs the server nothing to clean up, and needs nothing but
subscribe permission (a read-only subscriber account is enough). ``--from-start`` replays
the streams first, with one ordered (ephemeral) JetStream consumer per stream holding
subjects that overlap the filter; those consumers then keep following live.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.registry import UnknownEventType, event_class_for_subject
from contracts.subjects import SUBJECT_ROOT, service_subjects
from salesops.settings import ENV_PREFIX

DEFAULT_SUBJECT: Final = f"{SUBJECT_ROOT}.>"
_STREAM_NAMES: Final = "$JS.API.STREAM.NAMES"
# How long to keep trying to reach NATS at start before giving up.
CONNECT_SECONDS: Final = 5.0


class TailSettings(BaseSettings):
    """The NATS settings a service reads too (``SALESOPS_NATS_*``), without the others.

    A tail needs no database, so it does not load ServiceSettings (which would demand
    SALESOPS_DATABASE_URL).
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server(s)")
    nats_namespace: str = Field(default="", description="Prefix of every subject")
    # The same variables as ServiceSettings.nats_user/nats_password; for a person, the
    # read-only `subscriber` user of deploy/nats/authorization.conf is enough.
    nats_user: str | None = Field(default=None, description="NATS user, when auth is on")
    nats_password: SecretStr | None = Field(default=None, description="Password of nats_user")

    @field_validator("nats_namespace")
    @classmethod
    def _namespace_token(cls, value: str) -> str:
        if value:
            service_subjects("customers", value)  # raises ValueError naming the rule
        return value


class SettingsError(RuntimeError):
    """The environment names a NATS the tail cannot use."""


def load_tail_settings() -> TailSettings:
    try:
        return TailSettings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = ENV_PREFIX + ".".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{variable} = {os.environ.get(variable)!r}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None


def full_subject(subject: str | None, namespace: str) -> str:
    """The subject to subscribe to: ``sales.>`` by default, under the namespace if any."""
    chosen = subject or DEFAULT_SUBJECT
    return f"{namespace}.{chosen}" if namespace else chosen


def subject_intersection(a: str, b: str) -> str | None:
    """The subjects matched by both NATS patterns, as one pattern; None if none are.

    >>> subject_intersection("t1.sales.>", "t1.sales.customers.>")
    't1.sales.customers.>'
    >>> subject_intersection("sales.*.ticket_timed_out", "sales.collaboration.>")
    'sales.collaboration.ticket_timed_out'
    """
    left, right = a.split("."), b.split(".")
    tokens: list[str] = []
    for index, (x, y) in enumerate(zip(left, right, strict=False)):
        if x == ">" or y == ">":
            # ">" matches one or more tokens: the other side's rest, whatever it is.
            rest = right[index:] if x == ">" else left[index:]
            return ".".join([*tokens, *rest])
        if x == "*":
            tokens.append(y)
        elif y in ("*", x):
            tokens.append(x)
        else:
            return None
    return ".".join(tokens) if len(left) == len(right) else None


def format_event(subject: str, body: bytes, headers: dict[str, str] | None, as_json: bool) -> str:
    """One line for one message; never raises, whatever arrives on the subject."""
    try:
        envelope = json.loads(body)
        if not isinstance(envelope, dict):
            raise ValueError("not an object")
    except ValueError:
        return f"{subject}  (not a CloudEvents envelope: {len(body)} bytes)"
    if as_json:
        return _compact(envelope)
    columns = [
        str(envelope.get("time", "?")),
        _event_name(str(envelope.get("type", subject))),
        str(envelope.get("subject", "?")),
        str(envelope.get("actor", "?")),
        _compact(envelope.get("data")),
    ]
    consumer = (headers or {}).get("Salesops-Consumer")
    if consumer is not None:  # a dead letter: the original envelope, parked by a consumer
        error = (headers or {}).get("Salesops-Error", "")
        columns.insert(1, f"DEAD LETTER of {consumer} ({error})")
    return "  ".join(columns)


def _event_name(event_type: str) -> str:
    try:
        return event_class_for_subject(event_type).event_type()
    except UnknownEventType:
        return event_type  # a newer producer's event: show its subject as it is


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Tail:
    """Prints what arrives until ``stop`` is set."""

    as_json: bool
    out: TextIO = field(default_factory=lambda: sys.stdout)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    printed: int = 0

    async def on_message(self, msg: Msg) -> None:
        line = format_event(msg.subject, msg.data, msg.headers, self.as_json)
        try:
            # Flushed per line so `| grep` and `| tee` see each event when it happens.
            print(line, file=self.out, flush=True)
        except BrokenPipeError:  # `| head -3` has read enough
            _silence_stdout()
            self.stop.set()
            return
        self.printed += 1


def _silence_stdout() -> None:
    # As the Python docs advise: point stdout at devnull, so the interpreter's final
    # flush does not fail again on the closed pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


async def _stream_names_overlapping(nc: NatsClient, subject: str) -> list[str]:
    """The streams holding subjects that overlap ``subject``, as the server finds them.

    Asking the server with a subject filter, rather than listing every stream and
    filtering here, gets one short answer however many streams a shared server keeps
    (the full list comes in pages, which shift when streams are deleted meanwhile).
    """
    names: list[str] = []
    while True:
        request = {"subject": subject, "offset": len(names)}
        reply = await nc.request(_STREAM_NAMES, json.dumps(request).encode(), timeout=5)
        answer = json.loads(reply.data)
        if "error" in answer:
            raise NatsError(f"{_STREAM_NAMES}: {answer['error'].get('description', answer)}")
        page = answer.get("streams") or []
        names.extend(page)
        if not page or len(names) >= int(answer.get("total", 0)):
            return names


async def _subscribe_from_start(
    nc: NatsClient, subject: str, handler: Callable[[Msg], Awaitable[None]]
) -> list[str]:
    """One ordered consumer per stream overlapping ``subject``; returns their filters."""
    js = nc.jetstream()
    filters: list[str] = []
    for name in await _stream_names_overlapping(nc, subject):
        info = await js.stream_info(name)
        name = info.config.name or ""
        for stream_subject in info.config.subjects or []:
            overlap = subject_intersection(subject, stream_subject)
            if overlap is None:
                continue
            await js.subscribe(
                overlap,
                stream=name,
                cb=handler,
                ordered_consumer=True,
                config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
            )
            filters.append(f"{name}:{overlap}")
    return filters


async def _connect(settings: TailSettings, err: TextIO) -> NatsClient | None:
    """A connection, or None once it is clear there will be none (and why, on ``err``)."""
    connected = False
    failures: list[BaseException] = []
    # Set to the server's refusal of the login: the reason to report, and no use retrying.
    refused: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    async def report_error(exc: Exception) -> None:
        if connected:
            print(f"salesops events tail: NATS: {exc}", file=err, flush=True)
            return
        # Until the first connection a failure is only remembered: one line at the end
        # says why NATS could not be reached, instead of one per retry.
        failures.append(exc)
        text = str(exc).lower()
        if ("authorization" in text or "authentication" in text) and not refused.done():
            refused.set_result(exc)  # the same user and password will not do better

    async def report_reconnected() -> None:
        print("salesops events tail: reconnected", file=err, flush=True)

    password = settings.nats_password
    connecting = asyncio.ensure_future(
        nats.connect(
            servers=settings.nats_url.split(","),
            name="salesops-events-tail",
            user=settings.nats_user,
            password=password.get_secret_value() if password is not None else None,
            # Once connected, a lost connection is retried for ever: a tail is often left
            # running across a server restart.
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=report_error,
            reconnected_cb=report_reconnected,
        )
    )
    either: list[asyncio.Future[Any]] = [connecting, refused]
    await asyncio.wait(either, timeout=CONNECT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
    refusal = refused.result() if refused.done() else None
    refused.cancel()
    if connecting.done():
        failed = connecting.exception()
        if failed is None:
            connected = True
            return connecting.result()
        failures.append(failed)  # e.g. a URL nats-py cannot parse
    else:
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
    cause = refusal or (failures[-1] if failures else None)
    cause = cause or TimeoutError(f"no answer in {CONNECT_SECONDS:g} s")
    print(
        f"salesops events tail: cannot reach NATS at {settings.nats_url} "
        f"(SALESOPS_NATS_URL, SALESOPS_NATS_USER/_PASSWORD): {cause}",
        file=err,
    )
    return None


async def run_tail(
    settings: TailSettings,
    subject: str | None,
    *,
    from_start: bool,
    as_json: bool,
    err: TextIO = sys.stderr,
) -> int:
    """Print events until SIGINT/SIGTERM; 0 on a clean stop."""
    tail = Tail(as_json=as_json)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, tail.stop.set)
    wanted = full_subject(subject, settings.nats_namespace)

    nc = await _connect(settings, err)
    if nc is None:
        return 1
    try:
        if from_start:
            filters = await _subscribe_from_start(nc, wanted, tail.on_message)
            if not filters:
                print(f"salesops events tail: no stream holds {wanted}", file=err)
                return 1
            source = f"streams from the start ({', '.join(filters)})"
        else:
            await nc.subscribe(wanted, cb=tail.on_message)
            source = "from now on"
        await nc.flush()  # the server has the subscription: nothing published now is missed
        print(
            f"salesops events tail: {wanted} on {settings.nats_url}, {source}; Ctrl-C stops",
            file=err,
            flush=True,
        )
        await tail.stop.wait()
    except NatsError as exc:  # e.g. an account without JetStream rights and --from-start
        print(f"salesops events tail: {type(exc).__name__}: {exc}", file=err)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await nc.close()
    print(f"salesops events tail: stopped after {tail.printed} event(s)", file=err)
    return 0
