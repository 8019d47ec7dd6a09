"""Templates of table 1's events (customers). Registered with :func:`templates._template`."""

from __future__ import annotations

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
from salesops.orgdir import UnknownEntry
from services.notifier.templates import (
    _Content,
    _Ctx,
    _money,
    _template,
)


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
