"""Notification templates: every event renders, in Chinese and English, with its link."""

from pathlib import Path
from typing import Any, TypeVar

import pytest

from contracts.base import IntegrationEvent
from contracts.collaboration import (
    DepartmentQualityAlert,
    StockingStarted,
    TicketRated,
    TicketSubmitted,
    TicketTimedOut,
)
from contracts.customer_actions import NextActionsNotUpdated
from contracts.customer_reports import ProgressReported
from contracts.customers import DecisionStateChanged, FollowUpLogged
from contracts.registry import EVENT_TYPES
from contracts.tasks import ConcessionExceeded, DailyTodoCardIssued
from salesops.orgdir import OrgDirectory, load_org_directory
from services.notifier.routing import RoutingRules
from services.notifier.templates import Language, render

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://sales.hengyuan.example.com"
E = TypeVar("E", bound=IntegrationEvent)


@pytest.fixture(scope="module")
def org() -> OrgDirectory:
    return load_org_directory(ROOT / "deploy" / "org.yaml")


def example(cls: type[E], **update: Any) -> E:
    return cls.examples()[0].model_copy(update=update)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_registered_event_renders_in_both_languages(
    event_type: str, language: Language, org: OrgDirectory
) -> None:
    event = EVENT_TYPES[event_type].examples()[0]
    message = render(event, language=language, base_url=BASE, directory=org)
    assert message.title
    assert message.title in message.text
    assert message.markdown.startswith("### ")
    assert message.html.startswith("<h3>")
    assert message.urgent is False
    if message.link is not None:
        assert message.link.startswith(BASE + "/")
        assert message.link in message.markdown
        assert message.link in message.text
        assert message.link in message.html


@pytest.mark.parametrize("rule", RoutingRules.defaults().rules, ids=lambda rule: rule.event)
def test_every_routed_event_has_its_own_template(rule: Any, org: OrgDirectory) -> None:
    event = EVENT_TYPES[rule.event].examples()[0]
    for language in ("zh", "en"):
        message = render(event, language=language, base_url=BASE, directory=org)
        assert rule.event not in message.title  # not the generic fallback


def test_decision_state_change_uses_the_glossary_in_chinese(org: OrgDirectory) -> None:
    event = example(DecisionStateChanged, owner_id="rep-zhang-wei")
    message = render(event, language="zh", base_url=BASE, directory=org)
    assert "关键人决策状态" in message.title
    assert "「需技术验证」变为「已明确采购意向」" in message.text
    assert "张伟" in message.text  # the owner's name from the directory
    assert "2024-05-06 09:30" in message.text  # 01:30Z in Asia/Shanghai


def test_decision_state_change_in_english(org: OrgDirectory) -> None:
    event = example(DecisionStateChanged, owner_id="rep-zhang-wei", to_state="chose_competitor")
    message = render(event, language="en", base_url=BASE, directory=org)
    assert "chose competitor" in message.title
    assert "'needs tech validation' to 'chose competitor'" in message.text


def test_all_four_decision_states_have_chinese_names(org: OrgDirectory) -> None:
    for state, name in [
        ("intent_confirmed", "已明确采购意向"),
        ("needs_tech_validation", "需技术验证"),
        ("budget_pending", "预算未批复"),
        ("chose_competitor", "已选竞品"),
    ]:
        event = example(DecisionStateChanged, to_state=state)
        assert name in render(event, language="zh", base_url=BASE, directory=org).title


def test_people_unknown_to_the_directory_show_their_id(org: OrgDirectory) -> None:
    event = example(DecisionStateChanged, owner_id="p-rep-li-na")
    assert "p-rep-li-na" in render(event, language="zh", base_url=BASE, directory=org).text


def test_the_link_goes_back_to_the_customer(org: OrgDirectory) -> None:
    message = render(
        example(DecisionStateChanged), language="zh", base_url=BASE + "/", directory=org
    )
    assert message.link == f"{BASE}/customers/cus-0042"
    assert f"[查看详情]({BASE}/customers/cus-0042)" in message.markdown
    assert f'<a href="{BASE}/customers/cus-0042">查看详情</a>' in message.html


def test_the_link_goes_to_the_task_or_ticket_when_there_is_one(org: OrgDirectory) -> None:
    concession = render(example(ConcessionExceeded), language="en", base_url=BASE, directory=org)
    assert concession.link == f"{BASE}/tasks/task-7781"
    timed_out = render(example(TicketTimedOut), language="en", base_url=BASE, directory=org)
    assert timed_out.link == f"{BASE}/tickets/tkt-311"


def test_list_events_link_each_record(org: OrgDirectory) -> None:
    card = render(example(DailyTodoCardIssued), language="zh", base_url=BASE, directory=org)
    assert card.link == f"{BASE}/tasks/task-7781"
    flagged = render(example(NextActionsNotUpdated), language="zh", base_url=BASE, directory=org)
    assert f"({BASE}/customers/cus-0077)" in flagged.markdown
    assert "2 个客户标红" in flagged.title


def test_user_text_is_escaped_in_html(org: OrgDirectory) -> None:
    event = example(ProgressReported, support_needed='<script>alert("x")</script> & 价格')
    message = render(event, language="zh", base_url=BASE, directory=org)
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 价格" in message.html
    assert '<script>alert("x")</script> & 价格' in message.text  # plain text stays plain


def test_names_of_customers_are_escaped_in_html(org: OrgDirectory) -> None:
    event = example(DecisionStateChanged, customer_name="<b>ACME</b>")
    message = render(event, language="en", base_url=BASE, directory=org)
    assert "<b>ACME</b>" not in message.html
    assert "&lt;b&gt;ACME&lt;/b&gt;" in message.html


def test_multi_line_user_text_keeps_the_markdown_list_intact(org: OrgDirectory) -> None:
    event = example(FollowUpLogged, notes="第一行\n- 第二行")
    message = render(event, language="zh", base_url=BASE, directory=org)
    assert "- **沟通内容**: 第一行 - 第二行" in message.markdown


def test_progress_report_uses_the_glossary(org: OrgDirectory) -> None:
    message = render(example(ProgressReported), language="zh", base_url=BASE, directory=org)
    for term in ("今日关键动作", "已报价", "阻碍因素", "竞品压价", "需支持事项", "李娜"):
        assert term in message.text


def test_concession_exceeded_shows_prices_and_the_concession(org: OrgDirectory) -> None:
    message = render(example(ConcessionExceeded), language="zh", base_url=BASE, directory=org)
    assert "让步幅度 14.00% 超过 12%" in message.title
    assert "目标价: 100,000.00" in message.text
    assert "成交价: 86,000.00" in message.text


def test_sample_request_names_its_documents(org: OrgDirectory) -> None:
    message = render(example(TicketSubmitted), language="zh", base_url=BASE, directory=org)
    assert message.title.startswith("样机申请")
    assert "CE认证报告、3D安装图" in message.text
    english = render(example(TicketSubmitted), language="en", base_url=BASE, directory=org)
    assert english.title.startswith("Sample request")
    assert "CE certification report, 3D installation drawing" in english.text


def test_ticket_timeout_names_the_stage_owner_and_next_owner(org: OrgDirectory) -> None:
    event = example(
        TicketTimedOut,
        owner_id="te-luo-bin",
        escalated_to_id="tl-gao-jianjun",
        overdue_by_seconds=3900,
        team_id="tech-electrical",
    )
    message = render(event, language="zh", base_url=BASE, directory=org)
    assert message.title.startswith("【超时】技术响应超时")
    assert "罗斌" in message.text
    assert "已升级至 高建军" in message.text
    assert "1 小时 5 分钟" in message.text
    assert "电气与认证组" in message.text


def test_stocking_and_rating_use_the_glossary(org: OrgDirectory) -> None:
    stocking = render(example(StockingStarted), language="zh", base_url=BASE, directory=org)
    assert "备货启动" in stocking.title
    rated = render(example(TicketRated), language="zh", base_url=BASE, directory=org)
    assert "协同质量评分" in rated.text
    assert "★★★★☆" in rated.text


def test_quality_alert_lists_the_improvements_for_the_head(org: OrgDirectory) -> None:
    message = render(example(DepartmentQualityAlert), language="zh", base_url=BASE, directory=org)
    assert "协同质量评分" in message.title
    assert "郑立新" in message.text
    assert "<li>tkt-1: tech_answer 3h10m late (te-luo-bin)</li>" in message.html
    assert message.link == f"{BASE}/tickets/tkt-1"


def test_times_follow_the_given_timezone(org: OrgDirectory) -> None:
    event = example(DecisionStateChanged)
    message = render(event, language="en", base_url=BASE, directory=org, timezone="UTC")
    assert "2024-05-06 01:30" in message.text
