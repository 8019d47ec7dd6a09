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
from contracts.collaboration import (
    DepartmentQualityAlert,
    DocumentsCompleted,
    InfoRequested,
    InfoSupplied,
    ReceiptConfirmed,
    StockingStarted,
    TicketAnswered,
    TicketDispatched,
    TicketEscalated,
    TicketRated,
    TicketShipped,
    TicketSubmitted,
    TicketTimedOut,
)
from contracts.customer_actions import (
    CustomerWentStale,
    NegotiationJoinConfirmed,
    NegotiationJoinOverdue,
    NegotiationJoinRequested,
    NextActionCommitted,
    NextActionCompleted,
    NextActionOverdue,
    NextActionsNotUpdated,
)
from contracts.customer_reports import (
    ProgressReported,
    SupportAnswered,
    SupportAnswerOverdue,
    TargetAllocated,
    TargetNodeKind,
)
from contracts.customers import (
    CustomerDetailsUpdated,
    CustomerReassigned,
    CustomerRegistered,
    CustomerTierChanged,
    DecisionState,
    DecisionStateChanged,
    FollowUpLogged,
)
from contracts.tasks import (
    ConcessionApproved,
    ConcessionExceeded,
    ConcessionRejected,
    DailyTodoCardIssued,
    OpenTask,
    TaskPlanned,
    TasksOverdue,
    TaskSubmitted,
)
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


# --- Table 1: customer tiering & tracking (客户分级追踪表) --------------------------------


@_template(CustomerRegistered)
def _customer_registered(e: CustomerRegistered, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"新客户登记：{e.name}", f"New customer: {e.name}"),
        summary=c.t(
            f"{c.person(e.registered_by)} 登记了 {e.tier} 类客户 {e.name}，"
            f"负责人 {c.person(e.owner_id)}。",
            f"{c.person(e.registered_by)} registered tier {e.tier} customer {e.name}, "
            f"owned by {c.person(e.owner_id)}.",
        ),
        facts=(
            (c.t("客户分级", "Tier"), e.tier.value),
            (c.t("负责人", "Owner"), c.person(e.owner_id)),
            (c.t("预计贡献", "Estimated contribution"), _money(e.estimated_contribution)),
            (c.t("登记时间", "Registered at"), c.when(e.registered_at)),
        ),
    )


@_template(CustomerTierChanged)
def _tier_changed(e: CustomerTierChanged, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"客户分级调整：{e.customer_id}", f"Customer tier changed: {e.customer_id}"),
        summary=c.t(
            f"{c.person(e.changed_by)} 将客户 {e.customer_id} 由 {e.from_tier} 类"
            f"调整为 {e.to_tier} 类。",
            f"{c.person(e.changed_by)} moved customer {e.customer_id} from tier {e.from_tier} "
            f"to tier {e.to_tier}.",
        ),
        facts=((c.t("调整时间", "Changed at"), c.when(e.changed_at)),),
    )


@_template(CustomerReassigned)
def _reassigned(e: CustomerReassigned, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"客户移交：{e.customer_id}", f"Customer reassigned: {e.customer_id}"),
        summary=c.t(
            f"{c.person(e.reassigned_by)} 将客户 {e.customer_id} 由 {c.person(e.from_owner_id)} "
            f"移交给 {c.person(e.to_owner_id)}。",
            f"{c.person(e.reassigned_by)} handed customer {e.customer_id} from "
            f"{c.person(e.from_owner_id)} to {c.person(e.to_owner_id)}.",
        ),
        facts=((c.t("移交时间", "Reassigned at"), c.when(e.reassigned_at)),),
    )


@_template(CustomerDetailsUpdated)
def _details_updated(e: CustomerDetailsUpdated, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"客户信息更新：{e.name}", f"Customer updated: {e.name}"),
        summary=c.t(
            f"{c.person(e.updated_by)} 更新了客户 {e.name} 的信息。",
            f"{c.person(e.updated_by)} updated customer {e.name}.",
        ),
        facts=(
            (c.t("预计贡献", "Estimated contribution"), _money(e.estimated_contribution)),
            (c.t("更新时间", "Updated at"), c.when(e.updated_at)),
        ),
    )


@_template(FollowUpLogged)
def _follow_up(e: FollowUpLogged, c: _Ctx) -> _Content:
    facts = [
        (c.t("跟进方式", "Kind"), c.label(e.kind)),
        (c.t("接触时间", "Contacted at"), c.when(e.contacted_at)),
        (c.t("沟通内容", "Notes"), e.notes),
    ]
    if e.competitor_notes:
        facts.append((c.t("竞品信息", "Competitors"), e.competitor_notes))
    if e.decision_chain_change:
        facts.append((c.t("决策链变化", "Decision chain change"), e.decision_chain_change))
    facts.append((c.t("最近一次接触时间", "Last contact time"), c.when(e.last_contact_at)))
    return _Content(
        title=c.t(f"客户跟进记录：{e.customer_id}", f"Follow-up logged: {e.customer_id}"),
        summary=c.t(
            f"{c.person(e.logged_by)} 记录了对客户 {e.customer_id} 的{c.label(e.kind)}跟进。",
            f"{c.person(e.logged_by)} logged a {c.label(e.kind)} with customer {e.customer_id}.",
        ),
        facts=tuple(facts),
    )


@_template(DecisionStateChanged)
def _decision_state(e: DecisionStateChanged, c: _Ctx) -> _Content:
    before = c.label(e.from_state) if e.from_state else c.t("未设置", "not set")
    after = c.label(e.to_state)
    summary = c.t(
        f"{c.person(e.owner_id)} 的客户 {e.customer_name} "
        f"关键人决策状态由「{before}」变为「{after}」。",
        f"The key person of {c.person(e.owner_id)}'s customer {e.customer_name} moved from "
        f"'{before}' to '{after}'.",
    )
    if e.to_state is DecisionState.INTENT_CONFIRMED:
        summary += c.t(
            " 请销售经理参与二次报价谈判。",
            " The sales manager must join the second quote negotiation.",
        )
    return _Content(
        title=c.t(
            f"关键人决策状态变更：{e.customer_name} → {after}",
            f"Decision state changed: {e.customer_name} → {after}",
        ),
        summary=summary,
        facts=(
            (c.t("客户", "Customer"), e.customer_name),
            (c.t("关键人决策状态", "Decision state"), f"{before} → {after}"),
            (c.t("负责销售", "Owner"), c.person(e.owner_id)),
            (c.t("变更人", "Changed by"), c.person(e.changed_by)),
            (c.t("变更时间", "Changed at"), c.when(e.changed_at)),
        ),
    )


@_template(NegotiationJoinRequested)
def _join_requested(e: NegotiationJoinRequested, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(
            f"请参与二次报价谈判：{e.customer_name}",
            f"Join the second quote negotiation: {e.customer_name}",
        ),
        summary=c.t(
            f"客户 {e.customer_name} 已明确采购意向，请 {c.person(e.manager_id)} 在 "
            f"{c.when(e.due_at)} 前确认参与二次报价谈判。",
            f"Customer {e.customer_name} confirmed purchase intent: {c.person(e.manager_id)}, "
            f"please confirm joining the second quote negotiation by {c.when(e.due_at)}.",
        ),
        facts=(
            (c.t("客户", "Customer"), e.customer_name),
            (c.t("负责销售", "Owner"), c.person(e.owner_id)),
            (c.t("确认截止", "Confirm by"), c.when(e.due_at)),
        ),
    )


@_template(NegotiationJoinConfirmed)
def _join_confirmed(e: NegotiationJoinConfirmed, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(
            f"已确认参与二次报价谈判：{e.customer_id}",
            f"Negotiation join confirmed: {e.customer_id}",
        ),
        summary=c.t(
            f"{c.person(e.manager_id)} 已确认参与客户 {e.customer_id} 的二次报价谈判"
            f"（{c.on_time(e.on_time)}）。",
            f"{c.person(e.manager_id)} confirmed joining the second quote negotiation of "
            f"customer {e.customer_id} ({c.on_time(e.on_time)}).",
        ),
        facts=((c.t("确认时间", "Confirmed at"), c.when(e.confirmed_at)),),
    )


@_template(NegotiationJoinOverdue)
def _join_overdue(e: NegotiationJoinOverdue, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(
            f"【升级】二次报价谈判未按时确认：{e.customer_id}",
            f"[Escalated] Negotiation join not confirmed: {e.customer_id}",
        ),
        summary=c.t(
            f"{c.person(e.manager_id)} 未在 {c.when(e.due_at)} 前确认参与客户 {e.customer_id} "
            f"的二次报价谈判，已升级至 {c.person(e.escalated_to_id)}。",
            f"{c.person(e.manager_id)} did not confirm joining the negotiation of customer "
            f"{e.customer_id} by {c.when(e.due_at)}; escalated to {c.person(e.escalated_to_id)}.",
        ),
        facts=(
            (c.t("销售经理", "Sales manager"), c.person(e.manager_id)),
            (c.t("确认截止", "Was due"), c.when(e.due_at)),
            (c.t("升级至", "Escalated to"), c.person(e.escalated_to_id)),
        ),
    )


@_template(NextActionCommitted)
def _next_committed(e: NextActionCommitted, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"下次必做动作已更新：{e.customer_id}", f"Next action set: {e.customer_id}"),
        summary=c.t(
            f"{c.person(e.committed_by)} 为客户 {e.customer_id} 设定了下次必做动作："
            f"{c.label(e.action_kind)}，{c.when(e.due_at)} 前完成。",
            f"{c.person(e.committed_by)} set the next action of customer {e.customer_id}: "
            f"{c.label(e.action_kind)}, due {c.when(e.due_at)}.",
        ),
        facts=(
            (c.t("下次必做动作", "Next action"), c.label(e.action_kind)),
            (c.t("说明", "Description"), e.description),
            (c.t("截止时间", "Due"), c.when(e.due_at)),
        ),
    )


@_template(NextActionCompleted)
def _next_completed(e: NextActionCompleted, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"下次必做动作已完成：{e.customer_id}", f"Next action done: {e.customer_id}"),
        summary=c.t(
            f"{c.person(e.owner_id)} 完成了客户 {e.customer_id} 的下次必做动作"
            f"（{c.label(e.action_kind)}，{c.on_time(e.on_time)}）。",
            f"{c.person(e.owner_id)} completed the next action of customer {e.customer_id} "
            f"({c.label(e.action_kind)}, {c.on_time(e.on_time)}).",
        ),
        facts=(
            (c.t("截止时间", "Due"), c.when(e.due_at)),
            (c.t("完成时间", "Completed at"), c.when(e.completed_at)),
        ),
    )


@_template(NextActionOverdue)
def _next_overdue(e: NextActionOverdue, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"下次必做动作逾期：{e.customer_id}", f"Next action overdue: {e.customer_id}"),
        summary=c.t(
            f"{c.person(e.owner_id)} 的客户 {e.customer_id} 的下次必做动作"
            f"（{c.label(e.action_kind)}）已于 {c.when(e.due_at)} 到期，尚未完成。",
            f"The next action ({c.label(e.action_kind)}) of {c.person(e.owner_id)}'s customer "
            f"{e.customer_id} was due {c.when(e.due_at)} and is not done.",
        ),
        facts=((c.t("截止时间", "Due"), c.when(e.due_at)),),
    )


@_template(NextActionsNotUpdated)
def _not_updated(e: NextActionsNotUpdated, c: _Ctx) -> _Content:
    count = len(e.customer_ids)
    items = tuple((customer, c.url("customers", customer)) for customer in e.customer_ids)
    return _Content(
        title=c.t(
            f"晨会前未更新下次必做动作：{c.person(e.rep_id)}（{count} 个客户标红）",
            f"Next actions not updated before the morning meeting: {c.person(e.rep_id)} "
            f"({count} customers flagged red)",
        ),
        summary=c.t(
            f"{c.person(e.rep_id)} 有 {count} 个客户自上次晨会（{c.when(e.previous_meeting_at)}）"
            f"以来未更新下次必做动作，已标红并抄送直属主管 {c.person(e.supervisor_id)}。",
            f"{c.person(e.rep_id)} did not update the next action of {count} customers since "
            f"the previous meeting ({c.when(e.previous_meeting_at)}); they are flagged red and "
            f"the supervisor {c.person(e.supervisor_id)} is copied.",
        ),
        facts=(
            (c.t("销售", "Rep"), c.person(e.rep_id)),
            (c.t("晨会时间", "Meeting"), c.when(e.meeting_at)),
        ),
        items=items,
        link=items[0][1],
    )


@_template(CustomerWentStale)
def _went_stale(e: CustomerWentStale, c: _Ctx) -> _Content:
    days = (e.detected_at - e.last_contact_at).days
    return _Content(
        title=c.t(
            f"客户超过 {days} 天未接触：{e.customer_id}", f"Customer gone stale: {e.customer_id}"
        ),
        summary=c.t(
            f"客户 {e.customer_id} 已 {days} 天未接触，请 {c.person(e.owner_id)} 尽快跟进。",
            f"Nobody has contacted customer {e.customer_id} for {days} days; "
            f"{c.person(e.owner_id)}, please follow up.",
        ),
        facts=(
            (c.t("最近一次接触时间", "Last contact time"), c.when(e.last_contact_at)),
            (c.t("负责人", "Owner"), c.person(e.owner_id)),
        ),
    )


@_template(ProgressReported)
def _progress(e: ProgressReported, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(
            f"客户进展报告待处理：{c.person(e.rep_id)} / {e.customer_id}",
            f"Progress report to answer: {c.person(e.rep_id)} / {e.customer_id}",
        ),
        summary=c.t(
            f"{c.person(e.rep_id)} 提交了客户 {e.customer_id} 的进展报告，请 "
            f"{c.person(e.supervisor_id)} 在 {c.when(e.answer_due_at)} 前答复"
            "（已协调 / 需更多信息）。",
            f"{c.person(e.rep_id)} filed a progress report on customer {e.customer_id}; "
            f"{c.person(e.supervisor_id)}, please answer by {c.when(e.answer_due_at)} "
            "(coordinated / need more info).",
        ),
        facts=(
            (c.t("今日关键动作", "Today's key action"), c.label(e.key_action)),
            (c.t("阻碍因素", "Obstacle"), c.label(e.obstacle)),
            (c.t("需支持事项", "Support needed"), e.support_needed),
            (c.t("答复截止", "Answer by"), c.when(e.answer_due_at)),
        ),
    )


@_template(SupportAnswered)
def _support_answered(e: SupportAnswered, c: _Ctx) -> _Content:
    facts = [(c.t("答复", "Answer"), c.label(e.answer))]
    if e.note:
        facts.append((c.t("备注", "Note"), e.note))
    facts.append((c.t("答复时间", "Answered at"), c.when(e.answered_at)))
    return _Content(
        title=c.t(
            f"进展报告已答复：{c.label(e.answer)}", f"Progress report answered: {c.label(e.answer)}"
        ),
        summary=c.t(
            f"{c.person(e.answered_by)} 答复了客户 {e.customer_id} 的进展报告：{c.label(e.answer)}"
            f"（{c.on_time(e.on_time)}）。",
            f"{c.person(e.answered_by)} answered the progress report on customer "
            f"{e.customer_id}: {c.label(e.answer)} ({c.on_time(e.on_time)}).",
        ),
        facts=tuple(facts),
    )


@_template(SupportAnswerOverdue)
def _support_overdue(e: SupportAnswerOverdue, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(
            f"【升级】进展报告未按时答复：{e.customer_id}",
            f"[Escalated] Progress report not answered: {e.customer_id}",
        ),
        summary=c.t(
            f"{c.person(e.supervisor_id)} 未在 {c.when(e.due_at)} 前答复客户 {e.customer_id} "
            f"的进展报告，已升级至 {c.person(e.escalated_to_id)}。",
            f"{c.person(e.supervisor_id)} did not answer the progress report on customer "
            f"{e.customer_id} by {c.when(e.due_at)}; escalated to {c.person(e.escalated_to_id)}.",
        ),
        facts=(
            (c.t("直属主管", "Supervisor"), c.person(e.supervisor_id)),
            (c.t("答复截止", "Was due"), c.when(e.due_at)),
            (c.t("升级至", "Escalated to"), c.person(e.escalated_to_id)),
        ),
    )


@_template(TargetAllocated)
def _target_allocated(e: TargetAllocated, c: _Ctx) -> _Content:
    def node(node_id: str, kind: TargetNodeKind) -> str:
        if kind is TargetNodeKind.REP:
            return c.person(node_id)
        try:
            return c.directory.org_unit(node_id).name
        except UnknownEntry:
            return node_id

    parent = node(e.parent_id, TargetNodeKind.ORG_UNIT)
    return _Content(
        title=c.t(f"目标分解：{parent} {e.period}", f"Target allocated: {parent} {e.period}"),
        summary=c.t(
            f"{c.person(e.allocated_by)} 将 {parent} {e.period} 的目标 {_money(e.parent_amount)} "
            f"分解到 {len(e.shares)} 个下级。",
            f"{c.person(e.allocated_by)} split the {e.period} target of {parent} "
            f"({_money(e.parent_amount)}) among {len(e.shares)} children.",
        ),
        facts=((c.t("分解理由", "Rationale"), e.rationale),),
        items=tuple(
            (f"{node(share.node_id, share.node_kind)}: {_money(share.amount)}", None)
            for share in e.shares
        ),
    )


# --- Table 2: daily task list (销售日清任务表) ---------------------------------------------


@_template(TaskPlanned)
def _task_planned(e: TaskPlanned, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"新任务：{e.title}", f"Task planned: {e.title}"),
        summary=c.t(
            f"{c.person(e.planned_by)} 为 {c.person(e.rep_id)} 安排了{c.label(e.kind)}任务，"
            f"时间 {c.when(e.scheduled_at)}。",
            f"{c.person(e.planned_by)} planned a {c.label(e.kind)} task for "
            f"{c.person(e.rep_id)} at {c.when(e.scheduled_at)}.",
        ),
        facts=(
            (c.t("客户", "Customer"), e.customer_id),
            (c.t("任务", "Task"), e.title),
            (c.t("计划时间", "Scheduled at"), c.when(e.scheduled_at)),
        ),
    )


@_template(TaskSubmitted)
def _task_submitted(e: TaskSubmitted, c: _Ctx) -> _Content:
    compliant = c.t("合规", "compliant") if e.evidence_compliant else c.t("不合规", "not compliant")
    facts = [
        (c.t("任务类型", "Kind"), c.label(e.kind)),
        (c.t("交付物凭证", "Evidence"), f"{len(e.evidence)} · {compliant}"),
        (c.t("提交时间", "Submitted at"), c.when(e.submitted_at)),
    ]
    if e.target_price is not None:
        facts.append((c.t("目标价", "Target price"), _money(e.target_price)))
    if e.deal_price is not None:
        facts.append((c.t("成交价", "Deal price"), _money(e.deal_price)))
    if e.concession_pct is not None:
        facts.append((c.t("让步幅度", "Concession"), _pct(e.concession_pct)))
    summary = c.t(
        f"{c.person(e.rep_id)} 提交了客户 {e.customer_id} 的{c.label(e.kind)}任务，"
        f"交付物凭证{compliant}。",
        f"{c.person(e.rep_id)} submitted a {c.label(e.kind)} task for customer "
        f"{e.customer_id}; evidence {compliant}.",
    )
    if e.locked:
        summary += c.t(
            " 让步幅度超限，任务已锁定待销售总监审批。", " Locked for director approval."
        )
    return _Content(
        title=c.t(f"任务已提交：{e.task_id}", f"Task submitted: {e.task_id}"),
        summary=summary,
        facts=tuple(facts),
    )


@_template(ConcessionExceeded)
def _concession_exceeded(e: ConcessionExceeded, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(
            f"让步幅度 {_pct(e.concession_pct)} 超过 {_pct(e.threshold_pct)}，待审批：{e.task_id}",
            f"Concession {_pct(e.concession_pct)} over {_pct(e.threshold_pct)}, "
            f"approval needed: {e.task_id}",
        ),
        summary=c.t(
            f"{c.person(e.rep_id)} 对客户 {e.customer_id} 的报价"
            f"让步幅度为 {_pct(e.concession_pct)}，超过 {_pct(e.threshold_pct)}，"
            "任务已锁定，需销售总监审批（财务风控知悉）。",
            f"{c.person(e.rep_id)}'s quote to customer {e.customer_id} concedes "
            f"{_pct(e.concession_pct)}, over {_pct(e.threshold_pct)}: the task is locked until "
            "the sales director decides (finance/risk informed).",
        ),
        facts=(
            (c.t("目标价", "Target price"), _money(e.target_price)),
            (c.t("成交价", "Deal price"), _money(e.deal_price)),
            (c.t("让步幅度", "Concession"), _pct(e.concession_pct)),
            (c.t("审批阈值", "Threshold"), _pct(e.threshold_pct)),
            (c.t("销售", "Rep"), c.person(e.rep_id)),
        ),
    )


def _concession_decision(
    e: ConcessionApproved | ConcessionRejected, c: _Ctx, approved: bool
) -> _Content:
    verdict = c.t("已批准", "approved") if approved else c.t("已驳回", "rejected")
    return _Content(
        title=c.t(f"让步幅度审批{verdict}：{e.task_id}", f"Concession {verdict}: {e.task_id}"),
        summary=c.t(
            f"{c.person(e.decided_by)} {verdict}了 {c.person(e.rep_id)} 对客户 {e.customer_id} "
            f"让步幅度 {_pct(e.concession_pct)} 的报价。",
            f"{c.person(e.decided_by)} {verdict} {c.person(e.rep_id)}'s quote to customer "
            f"{e.customer_id} with a {_pct(e.concession_pct)} concession.",
        ),
        facts=(
            (c.t("理由", "Reason"), e.reason),
            (c.t("审批时间", "Decided at"), c.when(e.decided_at)),
        ),
    )


@_template(ConcessionApproved)
def _concession_approved(e: ConcessionApproved, c: _Ctx) -> _Content:
    return _concession_decision(e, c, approved=True)


@_template(ConcessionRejected)
def _concession_rejected(e: ConcessionRejected, c: _Ctx) -> _Content:
    return _concession_decision(e, c, approved=False)


def _task_items(tasks: Iterable[OpenTask], c: _Ctx) -> tuple[tuple[str, str | None], ...]:
    return tuple(
        (
            f"{c.when(task.scheduled_at)} {c.label(task.kind)} · {task.title} · {task.customer_id}",
            c.url("tasks", task.task_id),
        )
        for task in tasks
    )


@_template(DailyTodoCardIssued)
def _todo_card(e: DailyTodoCardIssued, c: _Ctx) -> _Content:
    items = _task_items(e.open_tasks, c)
    return _Content(
        title=c.t(
            f"今日待办（{e.card_date.isoformat()}）：{len(items)} 项待提交",
            f"To-do card {e.card_date.isoformat()}: {len(items)} open",
        ),
        summary=c.t(
            f"{c.person(e.rep_id)}，以下任务尚未提交交付物凭证，请在 {c.when(e.submit_by)} 前提交，"
            "逾期将推送给直属主管。",
            f"{c.person(e.rep_id)}, these tasks still need their evidence: submit by "
            f"{c.when(e.submit_by)}, or they go to your supervisor.",
        ),
        facts=((c.t("提交截止", "Submit by"), c.when(e.submit_by)),),
        items=items,
        link=items[0][1],
    )


@_template(TasksOverdue)
def _tasks_overdue(e: TasksOverdue, c: _Ctx) -> _Content:
    items = _task_items(e.overdue_tasks, c)
    return _Content(
        title=c.t(
            f"任务逾期未提交：{c.person(e.rep_id)}（{len(items)} 项）",
            f"Tasks overdue: {c.person(e.rep_id)} ({len(items)})",
        ),
        summary=c.t(
            f"{c.person(e.rep_id)} 有 {len(items)} 项任务在 {c.when(e.deadline_at)} 前"
            "未提交交付物凭证。",
            f"{c.person(e.rep_id)} did not submit {len(items)} tasks by {c.when(e.deadline_at)}.",
        ),
        facts=(
            (c.t("销售", "Rep"), c.person(e.rep_id)),
            (c.t("直属主管", "Supervisor"), c.person(e.supervisor_id)),
            (c.t("日期", "Card date"), e.card_date.isoformat()),
        ),
        items=items,
        link=items[0][1],
    )


# --- Table 3: cross-department collaboration (跨部门协同响应表) -----------------------------


@_template(TicketSubmitted)
def _ticket_submitted(e: TicketSubmitted, c: _Ctx) -> _Content:
    facts = [
        (c.t("客户", "Customer"), e.customer_id),
        (c.t("产品", "Product"), f"{e.product} × {e.quantity}"),
        (c.t("所需资料", "Documents"), c.documents(e.document_types)),
    ]
    if e.note:
        facts.append((c.t("备注", "Note"), e.note))
    kind = c.label(e.ticket_kind)
    return _Content(
        title=c.t(
            f"{kind}：{e.product} × {e.quantity}",
            f"{kind.capitalize()}: {e.product} × {e.quantity}",
        ),
        summary=c.t(
            f"{c.person(e.requester_id)} 提交了{kind}（工单 {e.ticket_id}）。",
            f"{c.person(e.requester_id)} submitted a {kind} (ticket {e.ticket_id}).",
        ),
        facts=tuple(facts),
    )


@_template(TicketDispatched)
def _ticket_dispatched(e: TicketDispatched, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"协同工单待技术响应：{e.ticket_id}", f"Ticket to answer: {e.ticket_id}"),
        summary=c.t(
            f"工单 {e.ticket_id} 已派发给{c.team(e.team_id)}，请 {c.person(e.owner_id)} 在 "
            f"{c.when(e.due_at)} 前答复（已提供 / 需补充资料）。",
            f"Ticket {e.ticket_id} went to {c.team(e.team_id)}: {c.person(e.owner_id)}, please "
            f"answer by {c.when(e.due_at)} (provided / needs more info).",
        ),
        facts=(
            (c.t("技术组", "Tech group"), c.team(e.team_id)),
            (c.t("所需资料", "Documents"), c.documents(e.document_types)),
            (c.t("答复截止", "Answer by"), c.when(e.due_at)),
        ),
    )


@_template(TicketAnswered)
def _ticket_answered(e: TicketAnswered, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"技术资料已提供：{e.ticket_id}", f"Documents provided: {e.ticket_id}"),
        summary=c.t(
            f"{c.team(e.team_id)}的 {c.person(e.answered_by)} 已提供工单 {e.ticket_id} 的资料"
            f"（{c.on_time(e.on_time)}）。",
            f"{c.person(e.answered_by)} of {c.team(e.team_id)} provided the documents of "
            f"ticket {e.ticket_id} ({c.on_time(e.on_time)}).",
        ),
        facts=((c.t("答复时间", "Answered at"), c.when(e.answered_at)),),
    )


@_template(InfoRequested)
def _info_requested(e: InfoRequested, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"需补充资料：{e.ticket_id}", f"More info needed: {e.ticket_id}"),
        summary=c.t(
            f"{c.team(e.team_id)}的 {c.person(e.requested_by)} 需要补充以下信息后才能答复工单 "
            f"{e.ticket_id}，技术计时暂停。",
            f"{c.person(e.requested_by)} of {c.team(e.team_id)} needs the following before "
            f"answering ticket {e.ticket_id}; the tech clock is paused.",
        ),
        facts=((c.t("技术剩余时间", "Tech time left"), c.duration(e.time_left_seconds)),),
        items=tuple((item, None) for item in e.missing_items),
    )


@_template(InfoSupplied)
def _info_supplied(e: InfoSupplied, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"资料已补充：{e.ticket_id}", f"Info supplied: {e.ticket_id}"),
        summary=c.t(
            f"{c.person(e.supplied_by)} 已补充工单 {e.ticket_id} 的信息，请{c.team(e.team_id)}在 "
            f"{c.when(e.due_at)} 前答复。",
            f"{c.person(e.supplied_by)} supplied the info for ticket {e.ticket_id}; "
            f"{c.team(e.team_id)} must answer by {c.when(e.due_at)}.",
        ),
        facts=(
            (c.t("补充内容", "Info"), e.info),
            (c.t("答复截止", "Answer by"), c.when(e.due_at)),
        ),
    )


@_template(DocumentsCompleted)
def _documents_completed(e: DocumentsCompleted, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"资料已齐全，可备货启动：{e.ticket_id}", f"Documents complete: {e.ticket_id}"),
        summary=c.t(
            f"工单 {e.ticket_id} 的技术资料已齐全，请 {c.person(e.owner_id)} 在 "
            f"{c.when(e.stocking_due_at)} 前备货启动。",
            f"All documents of ticket {e.ticket_id} are in: {c.person(e.owner_id)}, please "
            f"start stocking by {c.when(e.stocking_due_at)}.",
        ),
        facts=(
            (c.t("负责团队", "Team"), c.team(e.team_id)),
            (c.t("备货启动截止", "Start stocking by"), c.when(e.stocking_due_at)),
        ),
    )


@_template(StockingStarted)
def _stocking_started(e: StockingStarted, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"备货启动：{e.ticket_id}", f"Stocking started: {e.ticket_id}"),
        summary=c.t(
            f"{c.person(e.started_by)} 已为工单 {e.ticket_id} 备货启动（{c.on_time(e.on_time)}）。",
            f"{c.person(e.started_by)} started stocking for ticket {e.ticket_id} "
            f"({c.on_time(e.on_time)}).",
        ),
        facts=((c.t("启动时间", "Started at"), c.when(e.started_at)),),
    )


@_template(TicketShipped)
def _shipped(e: TicketShipped, c: _Ctx) -> _Content:
    facts = [(c.t("发货时间", "Shipped at"), c.when(e.shipped_at))]
    if e.tracking:
        facts.append((c.t("运单号", "Tracking"), e.tracking))
    facts.append((c.t("签收确认截止", "Confirm receipt by"), c.when(e.receipt_due_at)))
    return _Content(
        title=c.t(f"已发货，请确认签收：{e.ticket_id}", f"Shipped, confirm receipt: {e.ticket_id}"),
        summary=c.t(
            f"{c.person(e.shipped_by)} 已发出工单 {e.ticket_id} 的货物，请在 "
            f"{c.when(e.receipt_due_at)} 前确认客户签收。",
            f"{c.person(e.shipped_by)} shipped ticket {e.ticket_id}; confirm the customer's "
            f"receipt by {c.when(e.receipt_due_at)}.",
        ),
        facts=tuple(facts),
    )


@_template(ReceiptConfirmed)
def _receipt(e: ReceiptConfirmed, c: _Ctx) -> _Content:
    return _Content(
        title=c.t(f"客户已签收：{e.ticket_id}", f"Receipt confirmed: {e.ticket_id}"),
        summary=c.t(
            f"{c.person(e.confirmed_by)} 确认客户已签收工单 {e.ticket_id}"
            f"（{c.on_time(e.on_time)}），请为本次协同评分。",
            f"{c.person(e.confirmed_by)} confirmed receipt of ticket {e.ticket_id} "
            f"({c.on_time(e.on_time)}); please rate the collaboration.",
        ),
        facts=((c.t("确认时间", "Confirmed at"), c.when(e.confirmed_at)),),
    )


@_template(TicketRated)
def _rated(e: TicketRated, c: _Ctx) -> _Content:
    stars = "★" * e.stars + "☆" * (5 - e.stars)
    facts = [
        (c.t("协同质量评分", "Collaboration quality score"), f"{stars} ({e.stars}/5)"),
        (c.t("评价部门", "Departments"), c.t("、", ", ").join(c.team(t) for t in e.team_ids)),
    ]
    if e.comment:
        facts.append((c.t("评价", "Comment"), e.comment))
    return _Content(
        title=c.t(
            f"协同质量评分 {e.stars} 星：{e.ticket_id}", f"Ticket rated {e.stars}/5: {e.ticket_id}"
        ),
        summary=c.t(
            f"{c.person(e.rated_by)} 为工单 {e.ticket_id} 打了 {e.stars} 星。",
            f"{c.person(e.rated_by)} rated ticket {e.ticket_id} {e.stars} of 5 stars.",
        ),
        facts=tuple(facts),
    )


@_template(TicketTimedOut)
def _timed_out(e: TicketTimedOut, c: _Ctx) -> _Content:
    stage = c.stage(e.stage)
    escalated = (
        c.t(
            f"已升级至 {c.person(e.escalated_to_id)}。",
            f"Escalated to {c.person(e.escalated_to_id)}.",
        )
        if e.escalated_to_id
        else c.t("升级链已到顶。", "The escalation chain is exhausted.")
    )
    facts = [
        (c.t("环节", "Stage"), stage),
        (c.t("工单类型", "Ticket kind"), c.label(e.ticket_kind)),
        (c.t("当前负责人", "Stage owner"), c.person(e.owner_id)),
        (c.t("应完成时间", "Was due"), c.when(e.due_at)),
        (c.t("已超时", "Overdue by"), c.duration(e.overdue_by_seconds)),
        (c.t("升级级别", "Escalation level"), str(e.escalation_level)),
        (c.t("升级至", "Escalated to"), c.person(e.escalated_to_id)),
    ]
    if e.team_id:
        facts.insert(1, (c.t("负责团队", "Team"), c.team(e.team_id)))
    if e.next_due_at:
        facts.append((c.t("下一级升级时间", "Next escalation at"), c.when(e.next_due_at)))
    return _Content(
        title=c.t(
            f"【超时】{stage}超时：工单 {e.ticket_id}（升级 {e.escalation_level} 级）",
            f"[Timed out] {stage}: ticket {e.ticket_id} (escalation level {e.escalation_level})",
        ),
        summary=c.t(
            f"工单 {e.ticket_id} 的{stage}环节应于 {c.when(e.due_at)} 完成，已超时 "
            f"{c.duration(e.overdue_by_seconds)}（负责人 {c.person(e.owner_id)}）。",
            f"The {stage} stage of ticket {e.ticket_id} was due {c.when(e.due_at)} and is "
            f"{c.duration(e.overdue_by_seconds)} late (owner {c.person(e.owner_id)}).",
        )
        + c.t("", " ")
        + escalated,
        facts=tuple(facts),
    )


@_template(TicketEscalated)
def _escalated(e: TicketEscalated, c: _Ctx) -> _Content:
    stage = c.stage(e.stage)
    return _Content(
        title=c.t(
            f"【升级】{stage}：工单 {e.ticket_id} 转交 {c.person(e.to_owner_id)}",
            f"[Escalated] {stage}: ticket {e.ticket_id} to {c.person(e.to_owner_id)}",
        ),
        summary=c.t(
            f"工单 {e.ticket_id} 的{stage}环节已超时，由 {c.person(e.from_owner_id)} 升级至 "
            f"{c.person(e.to_owner_id)}（第 {e.escalation_level} 级）。",
            f"The {stage} stage of ticket {e.ticket_id} is overdue: escalated from "
            f"{c.person(e.from_owner_id)} to {c.person(e.to_owner_id)} (level "
            f"{e.escalation_level}).",
        ),
        facts=(
            (c.t("环节", "Stage"), stage),
            (c.t("负责团队", "Team"), c.team(e.team_id)),
            (c.t("原负责人", "From"), c.person(e.from_owner_id)),
            (c.t("新负责人", "To"), c.person(e.to_owner_id)),
            (c.t("升级时间", "Escalated at"), c.when(e.escalated_at)),
        ),
    )


@_template(DepartmentQualityAlert)
def _quality_alert(e: DepartmentQualityAlert, c: _Ctx) -> _Content:
    team = c.team(e.team_id)
    count = len(e.ticket_ids)
    items: tuple[tuple[str, str | None], ...] = tuple(
        (item, None) for item in e.improvement_items
    ) or tuple((ticket, c.url("tickets", ticket)) for ticket in e.ticket_ids)
    return _Content(
        title=c.t(
            f"协同质量评分连续偏低：{team} 改进清单",
            f"Collaboration quality alert: improvement list for {team}",
        ),
        summary=c.t(
            f"{c.person(e.head_id)}：{team}连续 {count} 个工单的协同质量评分低于 3 星"
            f"（{'、'.join(e.ticket_ids)}），请按以下改进清单跟进。",
            f"{c.person(e.head_id)}: {team} was rated below 3 stars on {count} tickets in a row "
            f"({', '.join(e.ticket_ids)}); please follow up on this improvement list.",
        ),
        facts=((c.t("提出时间", "Raised at"), c.when(e.raised_at)),),
        items=items,
        link=c.url("tickets", e.ticket_ids[0]),
    )
