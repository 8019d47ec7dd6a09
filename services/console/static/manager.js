// The manager's and director's screens: the concession approval queue, negotiation-join
// confirmations, the progress-report to-do list and target decomposition with coverage.
// (The team's customers and flags are the customer list, opened by a supervisor.)
//
// Queues refresh live; a card stays in place (with whatever reason was typed into it)
// for as long as its item is still in the queue.

import { api, get, post } from "./api.js";
import {
  card,
  failure,
  field,
  fill,
  formError,
  h,
  keyedList,
  link,
  onSubmit,
  select,
  toast,
} from "./dom.js";
import { dateTime, decimalDifference, decimalSum, money, orgMonth } from "./format.js";
import { label, t } from "./i18n.js";
import { countdown } from "./live.js";
import {
  customerName,
  isDirector,
  loadCustomers,
  personName,
  session,
  sla,
  unitName,
} from "./session.js";

// ---------------------------------------------------------------- concessions

/** Approve or reject a locked quote, with a reason (required by the rules). */
export function decisionForm(task, done) {
  const form = h(
    "form",
    { class: "stack-form", "data-key": `decide-${task.task_id}` },
    formError(),
    field(t("decision_reason"), h("textarea", { name: "reason", rows: 2 })),
    h(
      "div",
      { class: "button-row" },
      h(
        "button",
        { type: "submit", class: "button primary", name: "decision", value: "approve" },
        t("approve"),
      ),
      h(
        "button",
        { type: "submit", class: "button danger", name: "decision", value: "reject" },
        t("reject"),
      ),
    ),
  );
  onSubmit(form, async (submitter) => {
    const decision = submitter?.value || "approve";
    await post(api("tasks", `/tasks/${task.task_id}/concession-decision`), {
      decision,
      reason: form.elements.reason.value,
    });
    toast(t(decision === "approve" ? "concession_approved" : "concession_rejected"));
    await done();
  });
  return form;
}

function approvalCard(task, done) {
  return h(
    "li",
    { class: "row queue-item", "data-task-id": task.task_id },
    h(
      "div",
      { class: "row-head" },
      link(`/tasks/${task.task_id}`, h("strong", {}, task.title)),
      h("span", { class: "concession over", "data-role": "concession" }, `${task.concession_pct}%`),
    ),
    h(
      "div",
      { class: "row-meta" },
      h("span", {}, customerName(task.customer_id)),
      h("span", {}, personName(task.rep_id)),
      h("span", {}, t("target_price"), " ", money(task.target_price)),
      h("span", {}, t("deal_price"), " ", money(task.deal_price)),
      h("span", { class: "muted" }, t("submitted_at"), " ", dateTime(task.submitted_at)),
    ),
    isDirector() && task.rep_id !== session.me.id ? decisionForm(task, done) : null,
  );
}

export async function approvals(ctx) {
  ctx.title(t("nav_approvals"));
  const list = h("ul", { class: "rows", id: "approval-queue" });
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", {}, t("nav_approvals")),
      h(
        "p",
        { class: "hint" },
        t("approvals_hint", { threshold: session.config.concession_approval_threshold_pct }),
      ),
    ),
    card(null, list),
  );
  async function load() {
    try {
      const [tasks] = await Promise.all([
        get(api("tasks", "/tasks/awaiting-decision")),
        loadCustomers().catch(() => []),
      ]);
      keyedList(
        list,
        tasks,
        (task) => task.task_id,
        (task) => approvalCard(task, load),
        () => h("li", { class: "empty" }, t("no_approvals")),
      );
    } catch (error) {
      fill(list, h("li", {}, failure(error)));
    }
  }
  ctx.setRefresh(load);
  await load();
}

// ---------------------------------------------------------------- negotiation joins

export async function negotiations(ctx) {
  ctx.title(t("nav_negotiations"));
  const list = h("ul", { class: "rows", id: "negotiation-joins" });
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", {}, t("nav_negotiations")),
      h("p", { class: "hint" }, t("negotiations_hint", { d: sla("negotiation_join") })),
    ),
    card(null, list),
  );
  const row = (c) => {
    const form = h(
      "form",
      { class: "inline-form", "data-key": `join-${c.customer_id}` },
      formError(),
      h("button", { type: "submit", class: "button primary" }, t("confirm_join")),
    );
    onSubmit(form, async () => {
      await post(api("customers", `/customers/${c.customer_id}/negotiation-join/confirm`), {});
      toast(t("join_confirmed"));
      await load();
    });
    return h(
      "li",
      {
        class: `row queue-item${c.negotiation_status === "overdue" ? " is-red" : ""}`,
        "data-customer-id": c.customer_id,
      },
      h(
        "div",
        { class: "row-head" },
        link(`/customers/${c.customer_id}`, h("strong", {}, c.name)),
        h(
          "span",
          { class: `status s-${c.negotiation_status}` },
          label("neg", c.negotiation_status),
        ),
      ),
      h(
        "div",
        { class: "row-meta" },
        h("span", {}, personName(c.owner_id)),
        h("span", {}, label("ds", c.decision_state)),
        c.negotiation_due_at
          ? h(
              "span",
              {},
              t("due"),
              " ",
              dateTime(c.negotiation_due_at),
              " · ",
              countdown(c.negotiation_due_at),
            )
          : null,
      ),
      form,
    );
  };
  async function load() {
    try {
      const rows = await get(api("customers", "/customers/negotiation-joins"));
      keyedList(
        list,
        rows,
        (c) => c.customer_id,
        row,
        () => h("li", { class: "empty" }, t("no_joins")),
      );
    } catch (error) {
      fill(list, h("li", {}, failure(error)));
    }
  }
  ctx.setRefresh(load);
  await load();
}

// ---------------------------------------------------------------- progress reports

export async function reportTodo(ctx) {
  ctx.title(t("nav_reports"));
  const list = h("ul", { class: "rows", id: "report-todo" });
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", {}, t("nav_reports")),
      h("p", { class: "hint" }, t("reports_hint", { d: sla("progress_report_answer") })),
    ),
    card(null, list),
  );
  const row = (r) => {
    const form = h(
      "form",
      { class: "stack-form", "data-key": `answer-${r.report_id}` },
      formError(),
      field(t("answer_note"), h("textarea", { name: "note", rows: 2 })),
      h(
        "div",
        { class: "button-row" },
        h(
          "button",
          { type: "submit", class: "button primary", name: "answer", value: "coordinated" },
          label("ans", "coordinated"),
        ),
        h(
          "button",
          { type: "submit", class: "button", name: "answer", value: "need_more_info" },
          label("ans", "need_more_info"),
        ),
      ),
    );
    onSubmit(form, async (submitter) => {
      const answer = submitter?.value || "coordinated";
      const note = form.elements.note.value.trim();
      await post(api("customers", `/progress-reports/${r.report_id}/answer`), {
        answer,
        note: note || null,
      });
      toast(t("report_answered", { answer: label("ans", answer) }));
      await load();
    });
    return h(
      "li",
      { class: `row queue-item${r.overdue ? " is-red" : ""}`, "data-report-id": r.report_id },
      h(
        "div",
        { class: "row-head" },
        link(`/customers/${r.customer_id}`, h("strong", {}, customerName(r.customer_id))),
        h("span", {}, personName(r.rep_id)),
        r.overdue ? h("span", { class: "badge red" }, t("overdue")) : null,
      ),
      h(
        "dl",
        { class: "facts compact" },
        h("dt", {}, t("key_action")),
        h("dd", {}, label("ka", r.key_action)),
        h("dt", {}, t("obstacle")),
        h("dd", {}, label("ob", r.obstacle)),
        h("dt", {}, t("support_needed")),
        h("dd", { "data-role": "support-needed" }, r.support_needed),
        h("dt", {}, t("reported_at")),
        h("dd", {}, dateTime(r.reported_at)),
        h("dt", {}, t("answer_due")),
        h("dd", {}, dateTime(r.answer_due_at), " · ", countdown(r.answer_due_at)),
        r.escalated_to_id
          ? [h("dt", {}, t("escalated_to")), h("dd", {}, personName(r.escalated_to_id))]
          : null,
      ),
      form,
    );
  };
  async function load() {
    try {
      const [rows] = await Promise.all([
        get(api("customers", "/progress-reports/todo")),
        loadCustomers().catch(() => []),
      ]);
      keyedList(
        list,
        rows,
        (r) => r.report_id,
        row,
        () => h("li", { class: "empty" }, t("no_reports")),
      );
    } catch (error) {
      fill(list, h("li", {}, failure(error)));
    }
  }
  ctx.setRefresh(load);
  await load();
}

// ---------------------------------------------------------------- targets

function unitPath(unitId) {
  const path = [];
  let at = session.units.get(unitId);
  while (at && !path.includes(at.id)) {
    path.push(at.id);
    at = at.parent ? session.units.get(at.parent) : null;
  }
  return path;
}

/** Who a unit's target is split among: its child units, then the reps placed in it. */
function childrenOf(unitId) {
  const units = [...session.units.values()]
    .filter((u) => u.parent === unitId)
    .map((u) => ({ id: u.id, name: u.name }));
  const reps = [...session.people.values()]
    .filter((p) => p.org_unit === unitId && p.roles.includes("sales_rep"))
    .map((p) => ({ id: p.id, name: p.name }));
  return [...units, ...reps];
}

/** A bar filled to ``pct`` percent (CSSOM, which the page's content policy allows). */
export function bar(pct) {
  const filled = h("span", { class: "fill" });
  filled.style.width = `${Math.max(0, Math.min(100, pct))}%`;
  return h("span", { class: `bar${pct < 100 ? " short" : ""}` }, filled);
}

function coverageTable(lines) {
  const byParent = new Map();
  for (const line of lines) {
    const key = line.parent_id ?? "";
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(line);
  }
  const ordered = [];
  const walk = (parent, depth) => {
    for (const line of byParent.get(parent) ?? []) {
      ordered.push([line, depth]);
      walk(line.node_id, depth + 1);
    }
  };
  walk("", 0);
  const pct = (line) => (line.coverage_pct === null ? null : Number(line.coverage_pct));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "coverage", id: "coverage" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, t("node")),
          h("th", { class: "num" }, t("target")),
          h("th", { class: "num" }, t("covered")),
          h("th", { class: "num" }, t("coverage")),
        ),
      ),
      h(
        "tbody",
        {},
        ordered.map(([line, depth]) =>
          h(
            "tr",
            { "data-node-id": line.node_id, class: `depth-${Math.min(depth, 3)}` },
            h("th", { scope: "row" }, line.name),
            h("td", { class: "num" }, money(line.target)),
            h("td", { class: "num" }, money(line.covered)),
            h(
              "td",
              { class: "num coverage-cell" },
              h(
                "span",
                { "data-role": "coverage" },
                line.coverage_pct === null ? "—" : `${line.coverage_pct}%`,
              ),
              pct(line) === null ? null : bar(pct(line)),
            ),
          ),
        ),
      ),
    ),
  );
}

function allocationForm(period, currentLines, done) {
  const home = session.me.org_unit;
  const splittable = [...session.units.values()].filter(
    (u) => unitPath(u.id).includes(home) && childrenOf(u.id).length,
  );
  const parent = select(
    "parent_id",
    splittable.map((u) => [u.id, u.name]),
    { value: splittable[0]?.id },
  );
  const amount = h("input", { name: "parent_amount", inputmode: "decimal", autocomplete: "off" });
  const shares = h("div", { class: "shares" });
  const total = h("p", { class: "sum", "aria-live": "polite" });
  const known = (id) => currentLines().find((line) => line.node_id === id)?.target ?? null;
  const drawShares = () => {
    const children = childrenOf(parent.value);
    fill(
      shares,
      children.map((child, i) =>
        h(
          "div",
          { class: "share" },
          h("input", { type: "hidden", name: `shares[${i}].node_id`, value: child.id }),
          field(
            child.name,
            h("input", {
              name: `shares[${i}].amount`,
              inputmode: "decimal",
              autocomplete: "off",
              value: known(child.id) ?? "",
              "data-fields": `shares[${i}].node_id`,
            }),
          ),
        ),
      ),
    );
    amount.placeholder = known(parent.value) ?? "";
    sum();
  };
  const sum = () => {
    const values = [...shares.querySelectorAll("input[name$='.amount']")].map((el) => el.value);
    const added = decimalSum(values);
    const goal = amount.value.trim() || known(parent.value);
    const gap = added !== null && goal ? decimalDifference(goal, added) : null;
    total.textContent =
      added === null
        ? t("not_a_number")
        : t("shares_sum", {
            sum: money(added),
            target: goal ? money(goal) : "—",
            gap: gap === null ? "—" : money(gap),
          });
    total.classList.toggle("off", gap !== null && Number(gap) !== 0);
  };
  parent.addEventListener("change", drawShares);
  shares.addEventListener("input", sum);
  amount.addEventListener("input", sum);
  const form = h(
    "form",
    { class: "stack-form", "data-key": `allocate-${period}` },
    formError(),
    field(t("split_unit"), parent),
    field(t("parent_amount"), amount, h("p", { class: "hint" }, t("parent_amount_hint"))),
    h(
      "fieldset",
      { class: "field" },
      h("legend", {}, t("shares")),
      shares,
      total,
      h("p", { class: "field-error", role: "alert", hidden: true }),
    ),
    field(t("rationale"), h("textarea", { name: "rationale", rows: 2 })),
    h("button", { type: "submit", class: "button primary" }, t("allocate")),
  );
  // Errors about the shares as a whole ("shares") are shown under the list of shares.
  shares.dataset.fields = "shares";
  drawShares();
  onSubmit(form, async () => {
    const rows = [...shares.querySelectorAll(".share")].map((row) => ({
      node_id: row.querySelector("input[type=hidden]").value,
      amount: row.querySelector("input[name$='.amount']").value.trim(),
    }));
    const result = await post(
      api("customers", `/targets/${encodeURIComponent(period)}/allocations`),
      {
        parent_id: parent.value,
        parent_amount: amount.value.trim() || null,
        shares: rows,
        rationale: form.elements.rationale.value,
      },
    );
    toast(t("allocated", { unit: unitName(parent.value) }));
    await done(result);
  });
  return form;
}

export async function targets(ctx) {
  ctx.title(t("nav_targets"));
  const period = ctx.query.get("period") || orgMonth();
  const periodInput = h("input", {
    name: "period",
    value: period,
    pattern: "\\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?",
    size: 8,
  });
  const pick = h(
    "form",
    { class: "toolbar", "data-key": "period" },
    h("label", { class: "inline" }, t("period"), periodInput),
    h("button", { type: "submit", class: "button" }, t("show")),
  );
  pick.addEventListener("submit", (e) => {
    e.preventDefault();
    ctx.navigate(`/targets?period=${encodeURIComponent(periodInput.value.trim())}`);
  });
  const table = h("div");
  const formBox = h("div");
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", {}, t("nav_targets")),
      h("p", { class: "hint" }, t("targets_hint")),
    ),
    pick,
    card(t("coverage_title", { period }), table),
    formBox,
  );
  let lines = [];
  const draw = (found) => {
    lines = found;
    fill(table, lines.length ? coverageTable(lines) : h("p", { class: "empty" }, t("no_targets")));
  };
  try {
    draw(await get(api("customers", `/targets/${encodeURIComponent(period)}`)));
  } catch (error) {
    fill(table, failure(error));
  }
  fill(
    formBox,
    card(
      t("split_target"),
      allocationForm(
        period,
        () => lines,
        async (result) => draw(result),
      ),
    ),
  );
  ctx.setRefresh(async () => {
    try {
      draw(await get(api("customers", `/targets/${encodeURIComponent(period)}`)));
    } catch {
      // keep what is shown
    }
  });
}
