"""Local catchers for the demo's notifications: where every message the notifier sends lands.

The notifier talks to real HTTP and SMTP servers on 127.0.0.1, which check each request the
way the platforms do (services/notifier/platform_fakes*.py): a DingTalk robot (signed), a
WeCom group robot, a Feishu bot (signed), a signed-webhook receiver and an SMTP server. What
they receive is shown on one page (the inbox, newest first, refreshing itself) and appended to
``notifications.jsonl`` in the demo's folder, one JSON object a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from salesops.orgdir import OrgDirectory
from services.notifier.messages import SentRequest

DINGTALK_SECRET = "SECdemo-dingtalk-robot-secret"
FEISHU_SECRET = "demo-feishu-bot-secret"
WEBHOOK_SECRET = "demo-webhook-secret"
_MENTION = re.compile(r"<@([^<>\s]+)>|<at id=([^>]+)></at>")


@dataclass(frozen=True)
class Caught:
    """One message as a person would see it."""

    channel: str
    received_at: str
    to: str
    title: str
    text: str
    verified: bool


@dataclass
class Catchers:
    """The running catchers: the settings that point the notifier at them, and what came in."""

    env: dict[str, str]
    inbox_url: str
    log_file: Path
    counts: Counter[str]
    recent: deque[Caught]


def _first_line(text: str) -> str:
    return next((line.strip("# ").strip() for line in text.splitlines() if line.strip()), "")


class _Reader:
    """Turns what each fake received into :class:`Caught` messages, once each."""

    def __init__(self, directory: OrgDirectory) -> None:
        self.names: dict[str, str] = {}
        for person in directory.people:
            for address in (
                person.dingtalk_user_id,
                person.wecom_user_id,
                person.feishu_open_id,
                person.email,
                person.mobile,
            ):
                if address:
                    self.names[address.lower()] = f"{person.name} ({person.id})"

    def who(self, address: str | None) -> str:
        if not address:
            return "the group"
        return self.names.get(address.lower(), address)

    def chat(self, channel: str, request: SentRequest) -> Caught:
        try:
            body: dict[str, Any] = json.loads(request.body)
        except ValueError:
            body = {}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        if channel == "dingtalk":
            part = body.get(str(body.get("msgtype")), {}) or {}
            at = body.get("at") or {}
            address = next(iter((at.get("atUserIds") or []) + (at.get("atMobiles") or [])), None)
            text = str(part.get("text") or part.get("content") or "")
            return Caught(
                channel,
                now,
                self.who(address),
                str(part.get("title") or ""),
                text,
                request.verified,
            )
        if channel == "wecom":
            text = str((body.get("markdown") or body.get("text") or {}).get("content") or "")
            found = _MENTION.search(text)
            address = found.group(1) if found else None
            return Caught(
                channel, now, self.who(address), _first_line(text), text, request.verified
            )
        if channel == "feishu":
            card = body.get("card") or {}
            title = str(((card.get("header") or {}).get("title") or {}).get("content") or "")
            parts = [
                str((element.get("text") or {}).get("content") or "")
                for element in card.get("elements") or []
                if isinstance(element, dict)
            ]
            text = "\n".join(p for p in parts if p)
            found = _MENTION.search(text)
            address = found.group(2) if found else None
            return Caught(channel, now, self.who(address), title, text, request.verified)
        recipient = body.get("recipient") or {}
        to = f"{recipient.get('name', '?')} ({recipient.get('person_id', '?')})"
        return Caught(
            channel,
            now,
            to,
            str(body.get("title") or ""),
            str(body.get("text") or ""),
            request.verified,
        )


def _page(catchers: Catchers, channel: str | None) -> str:
    rows = [c for c in catchers.recent if channel in (None, c.channel)][:300]
    counts = " · ".join(f"{name} {count:,}" for name, count in sorted(catchers.counts.items()))
    links = " ".join(f'<a href="?channel={name}">{name}</a>' for name in sorted(catchers.counts))
    body = "".join(
        "<tr>"
        f"<td>{html.escape(c.received_at[11:19])}</td><td>{html.escape(c.channel)}</td>"
        f"<td>{html.escape(c.to)}</td><td><b>{html.escape(c.title)}</b><br>"
        f"<small>{html.escape(c.text[:400]).replace(chr(10), '<br>')}</small></td>"
        f"<td>{'✓' if c.verified else '✗ refused'}</td></tr>"
        for c in rows
    )
    return f"""<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>Demo inbox — notifications sent</title>
<style>body{{font:14px system-ui,sans-serif;margin:1.5em}}td{{border-top:1px solid #ddd;
padding:.3em .6em;vertical-align:top}}small{{color:#555}}</style>
<h1>Notifications the notifier sent</h1>
<p>{counts or "nothing yet"} — <a href="?">all</a> {links} — <a href="/messages">JSON</a>,
log file <code>{html.escape(str(catchers.log_file))}</code></p>
<table><tr><th>time (UTC)</th><th>channel</th><th>to</th><th>message</th><th>checks</th></tr>
{body}</table>"""


@contextlib.asynccontextmanager
async def run_catchers(
    directory: OrgDirectory, folder: Path, *, inbox_port: int
) -> AsyncIterator[Catchers]:
    """Start every catcher and the inbox page; yield where they are and what they caught."""
    from services.notifier.platform_fakes import dingtalk_server, wecom_robot_server

    log_file = folder / "notifications.jsonl"
    reader = _Reader(directory)
    async with contextlib.AsyncExitStack() as stack:
        dingtalk = await stack.enter_async_context(
            dingtalk_server(secret=DINGTALK_SECRET, access_token="demo-robot")
        )
        wecom = await stack.enter_async_context(wecom_robot_server(key="demo-robot"))
        env = {
            "SALESOPS_NOTIFY_DINGTALK_WEBHOOK": dingtalk.webhook_url,
            "SALESOPS_NOTIFY_DINGTALK_SECRET": DINGTALK_SECRET,
            "SALESOPS_NOTIFY_WECOM_WEBHOOK": wecom.webhook_url,
        }
        sources: list[tuple[str, Callable[[], list[Any]]]] = [
            ("dingtalk", lambda: dingtalk.received),
            ("wecom", lambda: wecom.received),
        ]
        try:
            # Needs aiosmtpd (the dev extras). Without it Feishu, webhook and e-mail are not
            # caught; the notifier reaches those people on their next channel (DingTalk...).
            from services.notifier.platform_fakes_other import (
                feishu_server,
                smtp_server,
                webhook_receiver,
            )
        except ImportError:
            smtp = None
        else:
            feishu = await stack.enter_async_context(
                feishu_server(token="demo-bot", secret=FEISHU_SECRET)
            )
            webhook = await stack.enter_async_context(webhook_receiver(secret=WEBHOOK_SECRET))
            smtp = await stack.enter_async_context(smtp_server(security="none"))
            env |= {
                "SALESOPS_NOTIFY_FEISHU_WEBHOOK": feishu.webhook_url,
                "SALESOPS_NOTIFY_FEISHU_SECRET": FEISHU_SECRET,
                "SALESOPS_NOTIFY_WEBHOOK_URL": webhook.url,
                "SALESOPS_NOTIFY_WEBHOOK_SECRET": WEBHOOK_SECRET,
            }
            sources += [("feishu", lambda: feishu.requests), ("webhook", lambda: webhook.requests)]
        if smtp is not None:
            env |= {
                "SALESOPS_NOTIFY_SMTP_HOST": smtp.host,
                "SALESOPS_NOTIFY_SMTP_PORT": str(smtp.port),
                "SALESOPS_NOTIFY_SMTP_SECURITY": "none",
                "SALESOPS_NOTIFY_SMTP_SENDER": "salesops-demo@kangtuo-med.example.com",
            }
            sources.append(("email", lambda: smtp.messages))
        catchers = Catchers(
            env=env,
            inbox_url=f"http://127.0.0.1:{inbox_port}/",
            log_file=log_file,
            counts=Counter(),
            recent=deque(maxlen=2000),
        )

        def read(channel: str, item: Any) -> Caught:
            if channel != "email":
                return reader.chat(channel, item)
            text = ""
            with contextlib.suppress(KeyError):
                text = item.part("text/plain")
            return Caught(
                "email",
                datetime.now(UTC).isoformat(timespec="seconds"),
                ", ".join(reader.who(to) for to in item.rcpt_tos),
                str(item.message.get("Subject", "")),
                text,
                True,
            )

        async def collect() -> None:
            with log_file.open("a", encoding="utf-8") as out:
                while True:
                    for channel, items in sources:
                        found = items()
                        # Taken out of the fake's list: a quarter sends tens of thousands.
                        batch = list(found)
                        found.clear()
                        for item in batch:
                            caught = read(channel, item)
                            catchers.counts[channel] += 1
                            catchers.recent.appendleft(caught)
                            out.write(json.dumps(asdict(caught), ensure_ascii=False) + "\n")
                    out.flush()
                    await asyncio.sleep(0.5)

        async def page(request: Request) -> Response:
            return HTMLResponse(_page(catchers, request.query_params.get("channel")))

        async def messages(request: Request) -> Response:
            channel = request.query_params.get("channel")
            found = [asdict(c) for c in catchers.recent if channel in (None, c.channel)]
            return JSONResponse({"counts": dict(catchers.counts), "messages": found[:500]})

        app = Starlette(routes=[Route("/", page), Route("/messages", messages)])
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=inbox_port, log_level="warning", lifespan="off"
            )
        )
        serving = asyncio.create_task(server.serve())
        collecting = asyncio.create_task(collect())
        try:
            while not server.started:
                if serving.done():
                    await serving  # cannot bind: say why
                await asyncio.sleep(0.01)
            yield catchers
        finally:
            collecting.cancel()
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await collecting
            await serving
