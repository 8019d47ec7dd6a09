"""What a notification says: one template per event, in Chinese (default) or English.

Pure functions, no I/O. Each template picks a title, a one-sentence summary, a few
labelled facts and, for list events, items with their own links; :func:`render` turns
that into chat markdown, plain text and HTML (user text escaped) with a link back to the
record. Chinese wording follows the glossary of the product spec (关键人决策状态,
让步幅度, 样机申请, 备货启动, 协同质量评分...).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Literal, TypeVar
from zoneinfo import ZoneInfo

from contracts.base import IntegrationEvent
from salesops.orgdir import OrgDirectory, UnknownEntry
from services.notifier.messages import OutgoingMessage

__all__ = ["DEFAULT_TIMEZONE", "Language", "record_link", "render"]

Language = Literal["zh", "en"]

#: The org's time zone unless the caller says otherwise (the spec's default).
DEFAULT_TIMEZONE: Final = "Asia/Shanghai"

# Labels of enum values, (Chinese, English); the Chinese ones are the glossary's.
_LABELS: Final[dict[str, tuple[str, str]]] = {
    # 关键人决策状态
    "intent_confirmed": ("已明确采购意向", "intent confirmed"),
    "needs_tech_validation": ("需技术验证", "needs tech validation"),
    "budget_pending": ("预算未批复", "budget pending"),
    "chose_competitor": ("已选竞品", "chose competitor"),
    # 下次必做动作
    "send_parameter_comparison": ("发送机型参数对比", "send a model parameter comparison"),
    "schedule_factory_visit": ("安排到厂参观产线", "schedule a factory visit"),
    "submit_installment_plan": ("提交分期方案", "submit an installment plan"),
    # 今日关键动作
    "contract_signed": ("已签合同", "contract signed"),
    "sample_sent": ("已寄样", "sample sent"),
    "quoted": ("已报价", "quoted"),
    "visit_scheduled": ("已约拜访", "visit scheduled"),
    # 阻碍因素
    "budget_frozen": ("客户预算冻结", "budget frozen"),
    "tech_params_unconfirmed": ("技术参数未确认", "tech parameters unconfirmed"),
    "competitor_price_pressure": ("竞品压价", "competitor price pressure"),
    "internal_process_blocked": ("内部流程卡点", "internal process blocked"),
    # 主管答复
    "coordinated": ("已协调", "coordinated"),
    "need_more_info": ("需更多信息", "need more info"),
    # 任务类型 / 跟进方式
    "visit": ("拜访", "visit"),
    "proposal": ("方案", "proposal"),
    "quote": ("报价", "quote"),
    "call": ("电话", "call"),
    "meeting": ("会面", "meeting"),
    "message": ("消息", "message"),
    "email": ("邮件", "e-mail"),
    "imported": ("导入", "imported"),
    "other": ("其他", "other"),
    # 协同环节 (the directory's stage names win when present)
    "tech_answer": ("技术响应", "tech answer"),
    "stocking_start": ("备货启动", "start stocking"),
    "receipt_confirmation": ("签收确认", "receipt confirmation"),
    # 工单类型
    "sample_request": ("样机申请", "sample request"),
}


@dataclass(frozen=True)
class _Content:
    """What a template says, before it is laid out as markdown, text and HTML."""

    title: str
    summary: str
    facts: tuple[tuple[str, str], ...] = ()
    items: tuple[tuple[str, str | None], ...] = ()  # (text, link)
    link: str | None = None  # overrides the record link found on the event


@dataclass(frozen=True)
class _Ctx:
    language: Language
    directory: OrgDirectory
    tz: ZoneInfo
    base_url: str

    def t(self, zh: str, en: str) -> str:
        return zh if self.language == "zh" else en

    def person(self, person_id: str | None) -> str:
        if person_id is None:
            return self.t("无", "nobody")
        try:
            return self.directory.person(person_id).name
        except UnknownEntry:
            return person_id

    def label(self, value: StrEnum | str | None) -> str:
        if value is None:
            return self.t("无", "none")
        zh, en = _LABELS.get(str(value), (str(value), str(value).replace("_", " ")))
        return self.t(zh, en)

    def when(self, at: datetime) -> str:
        return at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def stage(self, stage: str) -> str:
        try:
            found = self.directory.stage(stage)
        except UnknownEntry:
            return self.label(stage)
        return self.t(found.name_zh, found.name_en)

    def team(self, team_id: str | None) -> str:
        if team_id is None:
            return self.t("无", "none")
        try:
            return self.directory.team(team_id).name
        except UnknownEntry:
            return team_id

    def documents(self, ids: Iterable[str]) -> str:
        names = []
        for doc_id in ids:
            try:
                doc = self.directory.document_type(doc_id)
                names.append(self.t(doc.name_zh, doc.name_en))
            except UnknownEntry:
                names.append(doc_id)
        return self.t("、", ", ").join(names)

    def on_time(self, on_time: bool) -> str:
        return self.t("按时", "on time") if on_time else self.t("逾期", "late")

    def duration(self, seconds: int) -> str:
        hours, rest = divmod(seconds, 3600)
        minutes = rest // 60
        if self.language == "zh":
            return f"{hours} 小时 {minutes} 分钟" if hours else f"{minutes} 分钟"
        return f"{hours} h {minutes} min" if hours else f"{minutes} min"

    def url(self, kind: Literal["customers", "tasks", "tickets"], record_id: str) -> str:
        return f"{self.base_url}/{kind}/{record_id}"


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _pct(value: Decimal) -> str:
    return f"{value}%"


def _one_line(text: str) -> str:
    return " ".join(text.split())


E = TypeVar("E", bound=IntegrationEvent)
_Template = Callable[[Any, _Ctx], _Content]
_TEMPLATES: dict[type[IntegrationEvent], _Template] = {}


def _template(
    cls: type[E],
) -> Callable[[Callable[[E, _Ctx], _Content]], Callable[[E, _Ctx], _Content]]:
    def register(fn: Callable[[E, _Ctx], _Content]) -> Callable[[E, _Ctx], _Content]:
        _TEMPLATES[cls] = fn
        return fn

    return register


def record_link(event: IntegrationEvent, base_url: str) -> str | None:
    """The page of the record the event is about: its ticket, else task, else customer."""
    base = base_url.rstrip("/")
    for kind, field in (
        ("tickets", "ticket_id"),
        ("tasks", "task_id"),
        ("customers", "customer_id"),
    ):
        value = getattr(event, field, None)
        if isinstance(value, str) and value:
            return f"{base}/{kind}/{value}"
    return None


def render(
    event: IntegrationEvent,
    *,
    language: Language = "zh",
    base_url: str,
    directory: OrgDirectory,
    timezone: str = DEFAULT_TIMEZONE,
) -> OutgoingMessage:
    """The message for ``event`` in ``language``; times are shown in ``timezone``.

    ``urgent`` is left False: the delivery engine sets it from the routing rule.
    """
    ctx = _Ctx(language, directory, ZoneInfo(timezone), base_url.rstrip("/"))
    template = next((_TEMPLATES[cls] for cls in type(event).__mro__ if cls in _TEMPLATES), _generic)
    content: _Content = template(event, ctx)
    link = content.link or record_link(event, base_url)
    return OutgoingMessage(
        title=content.title,
        markdown=_markdown(content, link, ctx),
        text=_text(content, link, ctx),
        html=_html(content, link, ctx),
        link=link,
        urgent=False,
    )


def _open_label(ctx: _Ctx) -> str:
    return ctx.t("查看详情", "Open")


def _markdown(content: _Content, link: str | None, ctx: _Ctx) -> str:
    lines = [f"### {_one_line(content.title)}", "", _one_line(content.summary)]
    if content.facts:
        lines.append("")
        lines += [f"- **{label}**: {_one_line(value)}" for label, value in content.facts]
    if content.items:
        lines.append("")
        lines += [
            f"- [{_one_line(text)}]({item_link})" if item_link else f"- {_one_line(text)}"
            for text, item_link in content.items
        ]
    if link:
        lines += ["", f"[{_open_label(ctx)}]({link})"]
    return "\n".join(lines)


def _text(content: _Content, link: str | None, ctx: _Ctx) -> str:
    lines = [content.title, content.summary]
    lines += [f"{label}: {value}" for label, value in content.facts]
    lines += [
        f"- {text}" + (f" ({item_link})" if item_link else "") for text, item_link in content.items
    ]
    if link:
        lines.append(f"{_open_label(ctx)}: {link}")
    return "\n".join(lines)


def _html(content: _Content, link: str | None, ctx: _Ctx) -> str:
    esc = html.escape
    parts = [f"<h3>{esc(content.title)}</h3>", f"<p>{esc(content.summary)}</p>"]
    if content.facts:
        rows = "".join(
            f'<tr><th align="left">{esc(label)}</th><td>{esc(value)}</td></tr>'
            for label, value in content.facts
        )
        parts.append(f"<table>{rows}</table>")
    if content.items:
        items = "".join(
            f'<li><a href="{esc(item_link)}">{esc(text)}</a></li>'
            if item_link
            else f"<li>{esc(text)}</li>"
            for text, item_link in content.items
        )
        parts.append(f"<ul>{items}</ul>")
    if link:
        parts.append(f'<p><a href="{esc(link)}">{esc(_open_label(ctx))}</a></p>')
    return "\n".join(parts)


# --- Fallback -----------------------------------------------------------------------------


def _generic(event: IntegrationEvent, ctx: _Ctx) -> _Content:
    facts = tuple(
        (name, _one_line(str(value)))
        for name, value in event.model_dump(mode="json").items()
        if value is not None and not isinstance(value, list | dict)
    )
    return _Content(
        title=event.event_type(),
        summary=ctx.t(f"事件 {event.event_type()}", f"Event {event.event_type()}"),
        facts=facts,
    )


# The templates register themselves on import; importing them here makes render() see all.
from services.notifier import (  # noqa: E402
    templates_table1,  # noqa: F401
    templates_table2,  # noqa: F401
    templates_table3,  # noqa: F401
)
