"""Templates of table 2's events (tasks). Registered with :func:`templates._template`."""

from __future__ import annotations

from collections.abc import Iterable

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
from services.notifier.templates import (
    _Content,
    _Ctx,
    _money,
    _pct,
    _template,
)


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
