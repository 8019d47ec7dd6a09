"""The demo's notification catchers take what the notifier's channels send, and show it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from salesops.clock import SystemClock
from salesops.demo import SMALL, generate_company
from salesops.demo.catchers import run_catchers
from salesops.embedded import free_port
from salesops.testing.waiting import eventually
from services.notifier.channels_chat_cn import DingTalkRobot
from services.notifier.channels_other import SmtpEmail
from services.notifier.messages import OutgoingMessage, Recipient


async def test_a_signed_dingtalk_message_and_an_email_reach_the_inbox(tmp_path: Path) -> None:
    company = generate_company(4, SMALL)
    person = company.directory.person(company.reps[0])
    head = company.directory.person(company.tech_director)
    message = OutgoingMessage(
        title="客户超过 7 天未接触",
        markdown="### 客户超过 7 天未接触\n\n请尽快跟进",
        text="请尽快跟进",
        html="<p>请尽快跟进</p>",
        link="http://127.0.0.1:8100/customers/cus-1",
    )
    async with (
        run_catchers(company.directory, tmp_path, inbox_port=free_port()) as catchers,
        httpx.AsyncClient() as http,
    ):
        env = catchers.env
        robot = DingTalkRobot(
            webhook_url=env["SALESOPS_NOTIFY_DINGTALK_WEBHOOK"],
            secret=env["SALESOPS_NOTIFY_DINGTALK_SECRET"],
            http=http,
            clock=SystemClock(),
        )
        address = person.dingtalk_user_id or person.email or ""
        sent = await robot.send(message, Recipient(person.id, person.name, address))
        assert sent.ok, sent.provider_reply  # the signature checked out
        mail = SmtpEmail(
            host=env["SALESOPS_NOTIFY_SMTP_HOST"],
            port=int(env["SALESOPS_NOTIFY_SMTP_PORT"]),
            sender=env["SALESOPS_NOTIFY_SMTP_SENDER"],
            security="none",
        )
        assert head.email is not None
        assert (await mail.send(message, Recipient(head.id, head.name, head.email))).ok

        async def both_caught() -> bool:
            return sum(catchers.counts.values()) == 2

        await eventually(both_caught)
        page = await http.get(catchers.inbox_url)
        assert page.status_code == 200
        assert "客户超过 7 天未接触" in page.text
        listed = (await http.get(f"{catchers.inbox_url}messages")).json()
        assert listed["counts"] == {"dingtalk": 1, "email": 1}
        by_channel = {m["channel"]: m for m in listed["messages"]}
        assert by_channel["email"]["to"] == f"{head.name} ({head.id})"
        if person.dingtalk_user_id:
            assert by_channel["dingtalk"]["to"] == f"{person.name} ({person.id})"
        assert all(m["verified"] for m in listed["messages"])
    logged = [json.loads(line) for line in catchers.log_file.read_text().splitlines()]
    assert sorted(m["channel"] for m in logged) == ["dingtalk", "email"]
