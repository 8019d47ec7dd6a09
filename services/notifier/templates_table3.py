"""Templates of table 3's events (collaboration). Registered with :func:`templates._template`."""

from __future__ import annotations

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
from services.notifier.templates import (
    _Content,
    _Ctx,
    _template,
)


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
