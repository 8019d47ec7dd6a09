// The rep's screens (mobile first), which supervisors also open for their team:
// customers sorted by last contact with stale and red-flagged ones highlighted; one
// customer with follow-ups, decision state, next action, the progress report and the
// negotiation join; the tasks of a day; one task with its evidence or its approval.

import { ApiError, api, get, getBlob, post, postForm, put, query } from "./api.js";
import { card, failure, field, fill, formError, h, link, onSubmit, select, toast } from "./dom.js";
import {
  above,
  ago,
  charCount,
  concessionPct,
  dateTime,
  duration,
  fromInputValue,
  money,
  orgDate,
  serverNow,
  timeOfDay,
  toInputValue,
} from "./format.js";
import { label, options, t } from "./i18n.js";
import { countdown } from "./live.js";
import { decisionForm } from "./manager.js";
import {
  customerName,
  isDirector,
  isRep,
  isSales,
  isSupervisor,
  loadCustomers,
  personName,
  rememberCustomers,
  repsOverseen,
  session,
  sla,
} from "./session.js";

const DECISION_STATES = [
  "intent_confirmed",
  "needs_tech_validation",
  "budget_pending",
  "chose_competitor",
];
const FOLLOW_UP_KINDS = ["visit", "call", "meeting", "message", "email", "other"];
const NEXT_ACTION_KINDS = [
  "send_parameter_comparison",
  "schedule_factory_visit",
  "submit_installment_plan",
  "other",
];
const KEY_ACTIONS = ["contract_signed", "sample_sent", "quoted", "visit_scheduled"];
const OBSTACLES = [
  "budget_frozen",
  "tech_params_unconfirmed",
  "competitor_price_pressure",
  "internal_process_blocked",
];
const TASK_KINDS = ["visit", "proposal", "quote", "other"];
const OPEN_TASK = ["planned", "rejected"];

function flags(customer) {
  return [
    customer.stale ? h("span", { class: "badge stale" }, t("stale")) : null,
    customer.red_flag ? h("span", { class: "badge red" }, t("red_flag")) : null,
  ];
}

function tier(value) {
  return h("span", { class: `tier tier-${value}`, title: t("tier") }, value);
}

// ---------------------------------------------------------------- customers

function customerRow(c, showOwner) {
  const due = c.next_action_due_at;
  return h(
    "li",
    {
      class: ["row", c.stale ? "is-stale" : "", c.red_flag ? "is-red" : ""].join(" ").trim(),
      "data-customer-id": c.customer_id,
    },
    h(
      "div",
      { class: "row-head" },
      link(`/customers/${c.customer_id}`, h("strong", {}, c.name)),
      tier(c.tier),
      flags(c),
    ),
    h(
      "div",
      { class: "row-meta" },
      h(
        "span",
        { "data-role": "last-contact", title: dateTime(c.last_contact_at) },
        t("last_contact"),
        ": ",
        ago(c.last_contact_at),
      ),
      c.decision_state
        ? h("span", {}, label("ds", c.decision_state))
        : h("span", { class: "muted" }, t("no_decision_state")),
      showOwner ? h("span", {}, t("owner"), ": ", personName(c.owner_id)) : null,
    ),
    c.next_action_kind
      ? h(
          "div",
          { class: "row-next" },
          t("next_action"),
          ": ",
          label("na", c.next_action_kind),
          c.next_action_description ? ` — ${c.next_action_description}` : "",
          " · ",
          due ? dateTime(due) : "",
          c.next_action_status
            ? h(
                "span",
                { class: `status s-${c.next_action_status}` },
                label("nas", c.next_action_status),
              )
            : null,
        )
      : h("div", { class: "row-next muted" }, t("no_next_action")),
  );
}

function registerForm(onDone) {
  const form = h(
    "form",
    { class: "stack-form", "data-key": "register-customer" },
    formError(),
    field(t("customer_name"), h("input", { name: "name", autocomplete: "organization" })),
    field(
      t("tier"),
      select(
        "tier",
        ["A", "B", "C"].map((v) => [v, v]),
        { value: "B" },
      ),
    ),
    field(
      t("estimated_contribution"),
      h("input", { name: "estimated_contribution", inputmode: "decimal" }),
    ),
    h("button", { type: "submit", class: "button primary" }, t("register")),
  );
  onSubmit(form, async () => {
    const data = new FormData(form);
    const created = await post(api("customers", "/customers"), {
      name: data.get("name"),
      tier: data.get("tier"),
      estimated_contribution: String(data.get("estimated_contribution")).trim(),
    });
    form.reset();
    toast(t("registered", { name: created.name }));
    onDone(created);
  });
  return h("details", { class: "card fold" }, h("summary", {}, t("register_customer")), form);
}

export async function customerList(ctx) {
  ctx.title(t(isRep() ? "nav_my_customers" : "nav_team_customers"));
  const owner = ctx.query.get("owner") || "";
  const flag = ctx.query.get("flag") || "";
  const supervisor = isSupervisor();
  const to = (values) => {
    const params = query({ owner, flag, ...values });
    ctx.navigate(`/customers${params}`);
  };
  const chips = h(
    "div",
    { class: "chips", role: "group", "aria-label": t("filter") },
    [
      ["", "filter_all"],
      ["stale", "stale"],
      ["red", "red_flag"],
    ].map(([value, key]) =>
      h(
        "button",
        {
          type: "button",
          class: "chip",
          "aria-pressed": String(flag === value),
          onclick: () => to({ flag: value }),
        },
        t(key),
      ),
    ),
  );
  const ownerPicker = supervisor
    ? h(
        "label",
        { class: "inline" },
        t("owner"),
        select(
          "owner",
          repsOverseen().map((p) => [p.id, p.name]),
          { value: owner, placeholder: t("everyone") },
        ),
      )
    : null;
  ownerPicker
    ?.querySelector("select")
    .addEventListener("change", (e) => to({ owner: e.target.value }));
  const summary = h("div", { class: "todo-summary" });
  const list = h("ul", { class: "rows", id: "customer-list", "aria-live": "polite" });
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", {}, t(isRep() ? "nav_my_customers" : "nav_team_customers")),
      h(
        "p",
        { class: "hint" },
        t("sorted_by_contact", { d: duration(session.config.stale_after_seconds) }),
      ),
    ),
    summary,
    h("div", { class: "toolbar" }, chips, ownerPicker),
    card(null, list),
    isSales() ? registerForm(() => load()) : null,
  );

  async function load() {
    try {
      const rows = await get(
        api(
          "customers",
          `/customers${query({ owner_id: owner, stale: flag === "stale" ? "true" : "", red_flagged: flag === "red" ? "true" : "", limit: 500 })}`,
        ),
      );
      rememberCustomers(rows);
      fill(
        list,
        rows.length
          ? rows.map((c) => customerRow(c, supervisor))
          : h("li", { class: "empty" }, t("no_customers")),
      );
    } catch (error) {
      fill(list, h("li", {}, failure(error)));
    }
    if (supervisor) loadSummary(summary);
  }
  ctx.setRefresh(load);
  await load();
}

/** A supervisor's open to-dos, linked to their screens. */
async function loadSummary(box) {
  const jobs = [get(api("customers", "/progress-reports/todo"))];
  if (session.me.roles.includes("sales_manager"))
    jobs.push(get(api("customers", "/customers/negotiation-joins")));
  try {
    const [reports, joins] = await Promise.all(jobs);
    fill(
      box,
      h(
        "p",
        { class: "todo-line" },
        link("/reports", t("todo_reports", { n: reports.length })),
        joins ? [" · ", link("/negotiations", t("todo_joins", { n: joins.length }))] : null,
      ),
    );
  } catch {
    fill(box);
  }
}

// ---------------------------------------------------------------- one customer

function facts(c) {
  const negotiation = c.negotiation_status
    ? [
        h("dt", {}, t("negotiation_join")),
        h(
          "dd",
          {},
          label("neg", c.negotiation_status),
          " · ",
          personName(c.negotiation_manager_id),
          ["requested", "overdue"].includes(c.negotiation_status) && c.negotiation_due_at
            ? [" · ", countdown(c.negotiation_due_at)]
            : null,
        ),
      ]
    : [];
  return h(
    "dl",
    { class: "facts" },
    h("dt", {}, t("tier")),
    h("dd", {}, tier(c.tier), flags(c)),
    h("dt", {}, t("owner")),
    h("dd", {}, personName(c.owner_id)),
    h("dt", {}, t("estimated_contribution")),
    h("dd", { class: "num" }, money(c.estimated_contribution)),
    h("dt", {}, t("last_contact")),
    h(
      "dd",
      { "data-role": "last-contact" },
      dateTime(c.last_contact_at),
      " (",
      ago(c.last_contact_at),
      ")",
    ),
    h("dt", {}, t("decision_state")),
    h(
      "dd",
      { "data-role": "decision-state" },
      c.decision_state ? label("ds", c.decision_state) : "—",
    ),
    h("dt", {}, t("next_action")),
    h(
      "dd",
      { "data-role": "next-action" },
      c.next_action_kind
        ? [
            label("na", c.next_action_kind),
            c.next_action_description ? ` — ${c.next_action_description}` : "",
            h("br"),
            t("due"),
            ": ",
            dateTime(c.next_action_due_at),
            " ",
            c.next_action_status
              ? h(
                  "span",
                  { class: `status s-${c.next_action_status}` },
                  label("nas", c.next_action_status),
                )
              : null,
          ]
        : "—",
    ),
    negotiation,
  );
}

function followUpList(rows) {
  if (!rows.length) return h("p", { class: "empty" }, t("no_follow_ups"));
  return h(
    "ol",
    { class: "timeline" },
    rows.map((f) =>
      h(
        "li",
        {},
        h(
          "div",
          { class: "row-head" },
          h("strong", {}, label("fu", f.kind)),
          h("span", { class: "muted" }, dateTime(f.contacted_at), " · ", personName(f.logged_by)),
        ),
        h("p", {}, f.notes),
        f.competitor_notes
          ? h("p", { class: "note" }, t("competitor_notes"), ": ", f.competitor_notes)
          : null,
        f.decision_chain_change
          ? h("p", { class: "note" }, t("decision_chain_change"), ": ", f.decision_chain_change)
          : null,
      ),
    ),
  );
}

function followUpForm(customerId, done) {
  const form = h(
    "form",
    { class: "stack-form", "data-key": "follow-up" },
    formError(),
    field(t("follow_up_kind"), select("kind", options("fu", FOLLOW_UP_KINDS), { value: "visit" })),
    field(
      t("contacted_at"),
      h("input", {
        type: "datetime-local",
        name: "contacted_at",
        value: toInputValue(serverNow()),
      }),
    ),
    field(t("notes"), h("textarea", { name: "notes", rows: 3 })),
    field(
      t("competitor_notes"),
      h("textarea", { name: "competitor_notes", rows: 2 }),
      h("p", { class: "hint" }, t("competitor_notes_hint")),
    ),
    field(t("decision_chain_change"), h("textarea", { name: "decision_chain_change", rows: 2 })),
    h("button", { type: "submit", class: "button primary" }, t("log_follow_up")),
  );
  onSubmit(form, async () => {
    const data = new FormData(form);
    const optional = (name) => String(data.get(name) || "").trim() || null;
    await post(api("customers", `/customers/${customerId}/follow-ups`), {
      kind: data.get("kind"),
      contacted_at: fromInputValue(data.get("contacted_at")) ?? (data.get("contacted_at") || null),
      notes: data.get("notes"),
      competitor_notes: optional("competitor_notes"),
      decision_chain_change: optional("decision_chain_change"),
    });
    form.reset();
    form.elements.contacted_at.value = toInputValue(serverNow());
    toast(t("follow_up_logged"));
    await done();
  });
  return form;
}

function decisionStateForm(current, done) {
  const form = h(
    "form",
    { class: "stack-form", "data-key": "decision-state" },
    formError(),
    field(
      t("decision_state"),
      select("state", options("ds", DECISION_STATES), {
        value: current().decision_state ?? "",
        placeholder: "—",
      }),
    ),
    h("p", { class: "hint" }, t("decision_state_hint", { d: sla("negotiation_join") })),
    h("button", { type: "submit", class: "button primary" }, t("change_decision_state")),
  );
  onSubmit(form, async () => {
    const customer = current();
    try {
      await put(api("customers", `/customers/${customer.customer_id}/decision-state`), {
        state: form.elements.state.value || null,
        expected_version: customer.version,
      });
    } catch (error) {
      // Someone changed the customer meanwhile: show it as it is now, keep the choice.
      if (error instanceof ApiError && error.status === 409) await done();
      throw error;
    }
    toast(t("decision_state_changed"));
    await done();
  });
  return form;
}

function nextActionForms(current, done) {
  const c = current();
  const commit = h(
    "form",
    { class: "stack-form", "data-key": "next-action" },
    formError(),
    field(
      t("next_action_kind"),
      select("kind", options("na", NEXT_ACTION_KINDS), {
        value: c.next_action_kind ?? "send_parameter_comparison",
      }),
    ),
    field(
      t("description"),
      h("textarea", { name: "description", rows: 2 }, c.next_action_description ?? ""),
    ),
    field(
      t("due"),
      h("input", {
        type: "datetime-local",
        name: "due_at",
        value: toInputValue(
          c.next_action_due_at ? Date.parse(c.next_action_due_at) : serverNow() + 86400000,
        ),
      }),
    ),
    h(
      "p",
      { class: "hint" },
      t("next_action_hint", { time: session.config?.morning_meeting ?? "" }),
    ),
    h("button", { type: "submit", class: "button primary" }, t("commit_next_action")),
  );
  onSubmit(commit, async () => {
    const data = new FormData(commit);
    await put(api("customers", `/customers/${current().customer_id}/next-action`), {
      kind: data.get("kind"),
      description: data.get("description"),
      due_at: fromInputValue(data.get("due_at")) ?? (data.get("due_at") || null),
    });
    toast(t("next_action_committed"));
    await done();
  });
  const open = ["open", "overdue"].includes(c.next_action_status);
  const complete = h(
    "form",
    { class: "inline-form", "data-key": "next-action-complete" },
    formError(),
    h("button", { type: "submit", class: "button", disabled: !open }, t("complete_next_action")),
  );
  onSubmit(complete, async () => {
    await post(api("customers", `/customers/${current().customer_id}/next-action/complete`), {});
    toast(t("next_action_completed"));
    await done();
  });
  return [commit, complete];
}

function progressReportForm(customerId, done) {
  const max = session.config.support_needed_max_chars;
  const text = h("textarea", {
    name: "support_needed",
    rows: 2,
    "aria-describedby": "support-counter",
  });
  const counter = h("span", { class: "char-count", id: "support-counter", "aria-live": "polite" });
  const count = () => {
    const n = charCount(text.value);
    counter.textContent = t("chars_of", { n, max });
    counter.classList.toggle("over", n > max);
  };
  text.addEventListener("input", count);
  count();
  const result = h("div", { class: "result", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "stack-form", "data-key": "progress-report" },
    formError(),
    field(
      t("key_action"),
      select("key_action", options("ka", KEY_ACTIONS), { placeholder: t("choose") }),
    ),
    field(
      t("obstacle"),
      select("obstacle", options("ob", OBSTACLES), { placeholder: t("choose") }),
    ),
    field(t("support_needed"), text, h("p", { class: "hint" }, counter)),
    h("button", { type: "submit", class: "button primary" }, t("file_report")),
    result,
  );
  onSubmit(form, async () => {
    const data = new FormData(form);
    const filed = await post(api("customers", `/customers/${customerId}/progress-reports`), {
      key_action: data.get("key_action") || null,
      obstacle: data.get("obstacle") || null,
      support_needed: data.get("support_needed"),
    });
    form.reset();
    count();
    fill(
      result,
      h(
        "p",
        { class: "ok" },
        t("report_filed", {
          who: personName(filed.supervisor_id),
          due: dateTime(filed.answer_due_at),
        }),
      ),
    );
    await done();
  });
  return form;
}

/** The customer's progress reports, newest first, each with the supervisor's answer. */
function reportList(reports) {
  if (!reports.length) return h("p", { class: "empty" }, t("no_progress_reports"));
  return h(
    "ol",
    { class: "timeline reports", id: "progress-reports" },
    reports.map((r) =>
      h(
        "li",
        {
          "data-report-id": r.report_id,
          "data-answer": r.answer ?? "",
          class: r.overdue && !r.answer ? "is-red" : null,
        },
        h(
          "div",
          { class: "row-head" },
          h("strong", {}, label("ka", r.key_action), " · ", label("ob", r.obstacle)),
          h(
            "span",
            { class: `status s-${r.answer ?? "pending"}`, "data-role": "answer" },
            r.answer ? label("ans", r.answer) : t("answer_pending"),
          ),
          r.overdue && !r.answer ? h("span", { class: "badge red" }, t("overdue")) : null,
        ),
        h("p", { "data-role": "support-needed" }, r.support_needed),
        h(
          "p",
          { class: "note" },
          t("reported_at"),
          " ",
          dateTime(r.reported_at),
          " · ",
          r.answer
            ? t("answered_by", { who: personName(r.answered_by), at: dateTime(r.answered_at) })
            : [
                t("answer_waits_for", {
                  who: personName(r.escalated_to_id ?? r.supervisor_id),
                  due: dateTime(r.answer_due_at),
                }),
                r.overdue ? null : [" · ", countdown(r.answer_due_at)],
              ],
        ),
        r.note
          ? h(
              "p",
              { class: "answer-note", "data-role": "answer-note" },
              t("answer_note_shown"),
              ": ",
              r.note,
            )
          : null,
        r.escalated_to_id
          ? h("p", { class: "note" }, t("escalated_to"), " ", personName(r.escalated_to_id))
          : null,
      ),
    ),
  );
}

function confirmJoinForm(customerId, done) {
  const form = h(
    "form",
    { class: "inline-form", "data-key": "confirm-join" },
    formError(),
    h("button", { type: "submit", class: "button primary" }, t("confirm_join")),
  );
  onSubmit(form, async () => {
    await post(api("customers", `/customers/${customerId}/negotiation-join/confirm`), {});
    toast(t("join_confirmed"));
    await done();
  });
  return form;
}

export async function customerDetail(ctx) {
  const id = ctx.params[0];
  let customer;
  try {
    customer = await get(api("customers", `/customers/${id}`));
  } catch (error) {
    ctx.title(t("customer"));
    ctx.view.append(failure(error));
    return;
  }
  rememberCustomers([customer]);
  ctx.title(customer.name);
  const me = session.me.id;
  const owner = customer.owner_id === me;
  const head = h("div", { class: "screen-head" });
  const factsBox = h("div");
  const joinBox = h("div");
  const history = h("div");
  const reportsBox = h("div");
  const nextBox = h("div");
  const current = () => customer;

  async function reload() {
    const [fresh, followUps, reports] = await Promise.all([
      get(api("customers", `/customers/${id}`)),
      get(api("customers", `/customers/${id}/follow-ups`)),
      get(api("customers", `/customers/${id}/progress-reports`)),
    ]);
    customer = fresh;
    rememberCustomers([fresh]);
    drawFacts();
    fill(history, followUpList(followUps));
    fill(reportsBox, reportList(reports));
  }
  function drawFacts() {
    fill(
      head,
      h(
        "p",
        { class: "crumbs" },
        link("/customers", t(isRep() ? "nav_my_customers" : "nav_team_customers")),
      ),
      h("h1", {}, customer.name),
      h(
        "div",
        { class: "actions" },
        owner ? link(`/tasks?customer=${encodeURIComponent(id)}#plan`, t("plan_task")) : null,
        link(`/tickets/new?customer=${encodeURIComponent(id)}`, t("request_samples")),
      ),
    );
    fill(factsBox, facts(customer));
    const waiting = ["requested", "overdue"].includes(customer.negotiation_status);
    fill(
      joinBox,
      waiting && customer.negotiation_manager_id === me
        ? card(
            t("negotiation_join"),
            h("p", {}, t("confirm_join_hint", { d: sla("negotiation_join") })),
            confirmJoinForm(id, reload),
          )
        : null,
    );
    // The next-action forms show the committed action; redrawn only when it changed.
    if (
      owner &&
      nextBox.dataset.version !==
        `${customer.next_action_updated_at}|${customer.next_action_status}`
    ) {
      nextBox.dataset.version = `${customer.next_action_updated_at}|${customer.next_action_status}`;
      fill(nextBox, card(t("next_action"), nextActionForms(current, reload)));
    }
  }
  drawFacts();
  ctx.view.append(
    head,
    card(null, factsBox),
    joinBox,
    h(
      "div",
      { class: "grid-2" },
      card(t("log_follow_up"), followUpForm(id, reload)),
      h(
        "div",
        { class: "column" },
        card(t("decision_state"), decisionStateForm(current, reload)),
        nextBox,
      ),
      owner
        ? card(
            t("progress_report"),
            h(
              "p",
              { class: "hint" },
              t("progress_report_hint", { d: sla("progress_report_answer") }),
            ),
            progressReportForm(id, reload),
          )
        : null,
      card(t("progress_reports"), reportsBox),
      card(t("follow_ups"), history),
    ),
  );
  ctx.setRefresh(() => reload().catch(() => {}));
  await reload();
}

// ---------------------------------------------------------------- tasks

function taskStatus(task) {
  return h(
    "span",
    { class: `status s-${task.status}`, "data-status": task.status },
    label("ts", task.status),
  );
}

function taskRow(task) {
  return h(
    "li",
    { class: `row task-${task.status}`, "data-task-id": task.task_id },
    h(
      "div",
      { class: "row-head" },
      h("span", { class: "time" }, timeOfDay(task.scheduled_at)),
      link(`/tasks/${task.task_id}`, h("strong", {}, task.title)),
      taskStatus(task),
    ),
    h(
      "div",
      { class: "row-meta" },
      h("span", {}, label("tk", task.kind)),
      h("span", {}, customerName(task.customer_id)),
      task.concession_pct !== null
        ? h("span", {}, t("concession"), " ", task.concession_pct, "%")
        : null,
      task.evidence_compliant ? h("span", { class: "ok" }, t("evidence_compliant")) : null,
    ),
  );
}

async function planForm(customers, preselected, day, done) {
  const scheduled = `${day}T${toInputValue(serverNow()).slice(11)}`;
  const form = h(
    "form",
    { class: "stack-form", "data-key": "plan-task", id: "plan" },
    formError(),
    field(
      t("customer"),
      select(
        "customer_id",
        customers.filter((c) => c.owner_id === session.me.id).map((c) => [c.customer_id, c.name]),
        { value: preselected || undefined, placeholder: t("choose") },
      ),
    ),
    field(t("task_kind"), select("kind", options("tk", TASK_KINDS), { value: "visit" })),
    field(t("title"), h("input", { name: "title", maxlength: 200 })),
    field(
      t("scheduled_at"),
      h("input", { type: "datetime-local", name: "scheduled_at", value: scheduled }),
    ),
    h("button", { type: "submit", class: "button primary" }, t("plan_task")),
  );
  if (preselected) form.elements.customer_id.value = preselected;
  onSubmit(form, async () => {
    const data = new FormData(form);
    const planned = await post(api("tasks", "/tasks"), {
      customer_id: data.get("customer_id") || "",
      kind: data.get("kind"),
      title: data.get("title"),
      scheduled_at: fromInputValue(data.get("scheduled_at")) ?? (data.get("scheduled_at") || null),
    });
    form.elements.title.value = "";
    toast(t("task_planned", { title: planned.title }));
    await done();
  });
  return form;
}

export async function taskList(ctx) {
  const rep = isRep();
  ctx.title(t(rep ? "nav_my_tasks" : "nav_team_tasks"));
  const day = ctx.query.get("day") || orgDate();
  const reps = repsOverseen();
  const repId = ctx.query.get("rep") || (rep ? session.me.id : reps[0]?.id || session.me.id);
  const go = (values) =>
    ctx.navigate(`/tasks${query({ day, rep: ctx.query.get("rep") || "", ...values })}`);
  const dayInput = h("input", { type: "date", name: "day", value: day });
  dayInput.addEventListener("change", () => go({ day: dayInput.value }));
  const repPicker =
    reps.length > 1 || !rep
      ? select(
          "rep",
          reps.map((p) => [p.id, p.name]),
          { value: repId },
        )
      : null;
  repPicker?.addEventListener("change", () => go({ rep: repPicker.value }));
  const list = h("ul", { class: "rows", id: "task-list" });
  const planBox = h("div");
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", {}, t(rep ? "nav_my_tasks" : "nav_team_tasks")),
      h("p", { class: "hint" }, t("tasks_hint")),
    ),
    h(
      "div",
      { class: "toolbar" },
      h("label", { class: "inline" }, t("day"), dayInput),
      repPicker ? h("label", { class: "inline" }, t("rep"), repPicker) : null,
    ),
    card(null, list),
    planBox,
  );
  async function load() {
    try {
      const [tasks] = await Promise.all([
        get(api("tasks", `/tasks${query({ rep_id: repId, day })}`)),
        loadCustomers(),
      ]);
      fill(list, tasks.length ? tasks.map(taskRow) : h("li", { class: "empty" }, t("no_tasks")));
    } catch (error) {
      fill(list, h("li", {}, failure(error)));
    }
  }
  ctx.setRefresh(load);
  await load();
  if (rep && repId === session.me.id) {
    const customers = await loadCustomers();
    fill(
      planBox,
      card(t("plan_task"), await planForm(customers, ctx.query.get("customer"), day, load)),
    );
    if (window.location.hash === "#plan") planBox.scrollIntoView({ block: "start" });
  }
}

function photoInputs() {
  const preview = h("img", { class: "preview", alt: "", hidden: true });
  const camera = h("input", {
    type: "file",
    name: "file",
    accept: "image/*",
    capture: "environment",
    "data-slot": "camera",
    id: "photo-camera",
  });
  const gallery = h("input", {
    type: "file",
    name: "file",
    accept: "image/jpeg,image/png",
    "data-slot": "gallery",
    id: "photo-gallery",
  });
  let chosen = null;
  const show = (input) => {
    chosen = input.files?.[0] ? input : chosen;
    const file = chosen?.files?.[0];
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (file) {
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
    } else {
      preview.hidden = true;
    }
  };
  camera.addEventListener("change", () => show(camera));
  gallery.addEventListener("change", () => show(gallery));
  // A restored form (language switch) announces its inputs with "input".
  camera.addEventListener("input", () => show(camera));
  gallery.addEventListener("input", () => show(gallery));
  const block = h(
    "div",
    { class: "field" },
    h("span", { class: "label" }, t("photo")),
    h(
      "div",
      { class: "file-buttons" },
      h("label", { class: "button file", for: camera.id }, t("take_photo"), camera),
      h("label", { class: "button file", for: gallery.id }, t("pick_photo"), gallery),
    ),
    preview,
    h(
      "p",
      { class: "hint" },
      t("photo_hint", { d: duration(session.config.photo_capture_tolerance_seconds) }),
    ),
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
  return {
    block,
    file: () => chosen?.files?.[0] || camera.files?.[0] || gallery.files?.[0] || null,
  };
}

/** The proposal's PDF: a button to pick it, the file's name once picked. */
function pdfInput(task, customer) {
  const input = h("input", {
    type: "file",
    name: "file",
    accept: "application/pdf",
    "data-fields": "file_name",
    "data-slot": "pdf",
    id: "proposal-pdf",
  });
  const chosen = h("span", { class: "file-name", "aria-live": "polite" });
  const show = () => {
    chosen.textContent = input.files?.[0]?.name ?? "";
  };
  input.addEventListener("change", show);
  input.addEventListener("input", show);
  return h(
    "div",
    { class: "field" },
    h("span", { class: "label" }, t("proposal_pdf")),
    h(
      "div",
      { class: "file-buttons" },
      h("label", { class: "button file", for: input.id }, t("pick_pdf"), input),
      chosen,
    ),
    h(
      "p",
      { class: "hint" },
      t("proposal_hint", {
        name: customer?.name ?? "",
        day: orgDate(Date.parse(task.scheduled_at)).replaceAll("-", ""),
      }),
    ),
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
}

function quoteFields() {
  const threshold = session.config.concession_approval_threshold_pct;
  const target = h("input", { name: "target_price", inputmode: "decimal", autocomplete: "off" });
  const deal = h("input", { name: "deal_price", inputmode: "decimal", autocomplete: "off" });
  const shown = h("output", { class: "concession", id: "concession", "aria-live": "polite" }, "—");
  const warning = h("p", {
    class: "warning",
    id: "concession-warning",
    role: "alert",
    hidden: true,
  });
  const update = () => {
    const pct = concessionPct(target.value, deal.value);
    shown.textContent = pct === null ? "—" : `${pct}%`;
    shown.dataset.value = pct ?? "";
    const over = pct !== null && above(pct, threshold);
    warning.hidden = !over;
    warning.textContent = over ? t("concession_warning", { pct, threshold }) : "";
    shown.classList.toggle("over", over);
  };
  target.addEventListener("input", update);
  deal.addEventListener("input", update);
  update();
  return [
    field(t("target_price"), target),
    field(t("deal_price"), deal),
    h(
      "div",
      { class: "concession-line" },
      h("span", {}, t("concession")),
      shown,
      h("small", {}, t("concession_formula")),
    ),
    warning,
  ];
}

function submissionForm(task, customer, done) {
  const form = h(
    "form",
    { class: "stack-form", "data-key": `submit-${task.task_id}` },
    formError(),
  );
  let photo = null;
  if (task.kind === "visit") {
    photo = photoInputs();
    form.append(photo.block);
  } else if (task.kind === "proposal") {
    form.append(pdfInput(task, customer));
  } else if (task.kind === "quote") {
    form.append(...quoteFields());
  }
  form.append(
    field(
      t(task.kind === "other" ? "note_required" : "note"),
      h("textarea", { name: "note", rows: 2 }),
    ),
    h("button", { type: "submit", class: "button primary" }, t("submit_task")),
  );
  onSubmit(form, async () => {
    const data = new FormData();
    if (photo) {
      const file = photo.file();
      if (file) data.append("file", file, file.name);
    } else if (form.elements.file?.files?.[0]) {
      const file = form.elements.file.files[0];
      data.append("file", file, file.name);
    }
    for (const name of ["target_price", "deal_price", "note"]) {
      const value = form.elements[name]?.value;
      if (value) data.append(name, value.trim());
    }
    const submitted = await postForm(api("tasks", `/tasks/${task.task_id}/submission`), data);
    toast(submitted.status === "locked" ? t("task_locked_toast") : t("task_submitted"));
    await done();
  });
  return form;
}

function taskFacts(task) {
  return h(
    "dl",
    { class: "facts" },
    h("dt", {}, t("task_kind")),
    h("dd", {}, label("tk", task.kind)),
    h("dt", {}, t("customer")),
    h("dd", {}, link(`/customers/${task.customer_id}`, customerName(task.customer_id))),
    h("dt", {}, t("rep")),
    h("dd", {}, personName(task.rep_id)),
    h("dt", {}, t("scheduled_at")),
    h("dd", {}, dateTime(task.scheduled_at)),
    h("dt", {}, t("status")),
    h(
      "dd",
      {},
      taskStatus(task),
      task.evidence_compliant ? h("span", { class: "ok" }, " ", t("evidence_compliant")) : null,
    ),
    task.submitted_at
      ? [h("dt", {}, t("submitted_at")), h("dd", {}, dateTime(task.submitted_at))]
      : null,
    task.target_price !== null
      ? [
          h("dt", {}, t("target_price")),
          h("dd", { class: "num" }, money(task.target_price)),
          h("dt", {}, t("deal_price")),
          h("dd", { class: "num" }, money(task.deal_price)),
          h("dt", {}, t("concession")),
          h("dd", { class: "num", "data-role": "concession" }, `${task.concession_pct}%`),
        ]
      : null,
    task.decided_by
      ? [
          h("dt", {}, t("decision")),
          h(
            "dd",
            {},
            label("ts", task.status),
            " · ",
            personName(task.decided_by),
            " · ",
            dateTime(task.decided_at),
            h("br"),
            task.decision_reason,
          ),
        ]
      : null,
  );
}

/**
 * The reviewer's copies of a task's evidence, fetched with the token (an <img src> could
 * not send it) and shown through object URLs, kept per file while the screen is open.
 */
class EvidenceCopies {
  constructor() {
    this.urls = new Map();
    this.released = false;
  }

  /** The object URL of a copy, fetched once. */
  url(file) {
    if (!this.urls.has(file.sha256)) {
      const made = getBlob(api("tasks", file.copy_path)).then((blob) => {
        if (this.released) throw new Error("the screen was left");
        return URL.createObjectURL(blob);
      });
      made.catch(() => this.urls.delete(file.sha256)); // a later redraw tries again
      this.urls.set(file.sha256, made);
    }
    return this.urls.get(file.sha256);
  }

  /** The screen is left: every copy's object URL goes (the browser frees the file). */
  release() {
    this.released = true;
    for (const made of this.urls.values()) made.then(URL.revokeObjectURL, () => {});
    this.urls.clear();
  }
}

function evidenceFacts(file) {
  return h(
    "dl",
    { class: "facts compact" },
    file.capture_time
      ? [
          h("dt", {}, t("capture_time")),
          h("dd", { "data-role": "capture-time" }, dateTime(file.capture_time)),
        ]
      : null,
    file.device_id
      ? [h("dt", {}, t("device")), h("dd", { "data-role": "device" }, file.device_id)]
      : null,
    file.file_name
      ? [h("dt", {}, t("file_name")), h("dd", { class: "file-name" }, file.file_name)]
      : null,
    file.stored_at ? [h("dt", {}, t("stored_at")), h("dd", {}, dateTime(file.stored_at))] : null,
  );
}

function evidencePhoto(file, copies) {
  const img = h("img", {
    class: "evidence-photo",
    alt: t("evidence_photo_alt"),
    "data-role": "evidence-photo",
    hidden: true,
  });
  // Opened full size in a tab of its own (to zoom in on the watermark).
  const full = h("a", { class: "evidence-open", target: "_blank", rel: "noopener" }, img);
  const status = h("p", { class: "hint", role: "status" }, t("evidence_loading"));
  copies.url(file).then(
    (url) => {
      img.src = url;
      full.href = url;
      img.hidden = false;
      status.remove();
    },
    (error) => status.replaceWith(failure(error)),
  );
  return h(
    "figure",
    { class: "evidence-figure" },
    full,
    status,
    h("figcaption", {}, evidenceFacts(file)),
  );
}

function evidencePdf(file, copies) {
  const name = file.file_name || `${file.sha256.slice(0, 12)}.pdf`;
  const error = h("div");
  const button = h(
    "button",
    { type: "button", class: "button", "data-role": "download-pdf" },
    t("download_pdf"),
  );
  // Fetched when asked for (a proposal can be large), then saved under its own name.
  button.addEventListener("click", async () => {
    button.disabled = true;
    fill(error);
    try {
      const save = h("a", { href: await copies.url(file), download: name, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
    } catch (problem) {
      fill(error, failure(problem));
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "div",
    { class: "evidence-pdf" },
    h("strong", {}, t("proposal_pdf")),
    evidenceFacts(file),
    button,
    error,
  );
}

function evidenceList(files, copies) {
  const photos = files.some((f) => f.kind === "photo");
  return card(
    t("evidence_submitted"),
    photos ? h("p", { class: "hint" }, t("evidence_copy_hint")) : null,
    h(
      "ul",
      { class: "evidence-list", id: "evidence" },
      files.map((file) =>
        h(
          "li",
          { "data-sha256": file.sha256, "data-kind": file.kind },
          file.kind === "photo" ? evidencePhoto(file, copies) : evidencePdf(file, copies),
        ),
      ),
    ),
  );
}

export async function taskDetail(ctx) {
  const id = ctx.params[0];
  const head = h("div", { class: "screen-head" });
  const body = h("div");
  const copies = new EvidenceCopies();
  ctx.onLeave(() => copies.release());
  ctx.view.append(head, body);
  async function load() {
    let task;
    let files;
    try {
      [task, files] = await Promise.all([
        get(api("tasks", `/tasks/${id}`)),
        // The proof shown to the rep and the reviewers (the service decides who may see it).
        get(api("tasks", `/tasks/${id}/evidence`)).catch((error) => error),
        loadCustomers().catch(() => []),
      ]);
    } catch (error) {
      ctx.title(t("task"));
      fill(body, failure(error));
      return;
    }
    ctx.title(task.title);
    fill(
      head,
      h(
        "p",
        { class: "crumbs" },
        link(
          `/tasks${query({ day: orgDate(Date.parse(task.scheduled_at)) })}`,
          t(isRep() ? "nav_my_tasks" : "nav_team_tasks"),
        ),
      ),
      h("h1", {}, task.title),
    );
    const mine = task.rep_id === session.me.id;
    const parts = [card(null, taskFacts(task))];
    if (files instanceof Error) parts.push(card(t("evidence_submitted"), failure(files)));
    else if (files.length) parts.push(evidenceList(files, copies));
    if (mine && OPEN_TASK.includes(task.status)) {
      if (task.status === "rejected")
        parts.push(h("p", { class: "banner" }, t("rejected_resubmit")));
      parts.push(
        card(t("evidence"), submissionForm(task, session.customers.get(task.customer_id), load)),
      );
    }
    if (task.status === "locked") {
      parts.push(h("p", { class: "banner warn-banner", role: "status" }, t("task_locked")));
      // Finance/risk sees the queue; only a sales director decides (never on their own quote).
      if (isDirector() && !mine)
        parts.push(card(t("concession_decision"), decisionForm(task, load)));
    }
    fill(body, parts);
  }
  await load();
}
