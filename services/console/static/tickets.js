// Table 3 on screen. Sales: request samples with the documents needed, supply what tech
// asks for, confirm receipt, rate 1-5 stars. Tech: the queue of their groups' open
// stages with live SLA countdowns, answer provided or needs_info with the missing items.
// Logistics: start stocking (disabled, with the reason, until the documents are
// complete) and ship.

import { api, get, post } from "./api.js";
import { card, failure, field, fill, formError, h, link, onSubmit, select, toast } from "./dom.js";
import { dateTime } from "./format.js";
import { label, t } from "./i18n.js";
import { countdown } from "./live.js";
import {
  customerName,
  documentName,
  documentTypes,
  isLogistics,
  isSales,
  isTech,
  loadCustomers,
  myTeams,
  personName,
  session,
  sla,
  stageName,
  teamName,
} from "./session.js";

const TECH = "tech_answer";
const STOCKING = "stocking_start";

function openStages(ticket) {
  return ticket.stages.filter((s) => !s.finished_at);
}

function stageLabel(stage) {
  return stage.team_id && stage.stage === TECH
    ? `${stageName(stage.stage)} · ${teamName(stage.team_id)}`
    : stageName(stage.stage);
}

/** The clock of an open stage: a live countdown to its SLA time, or paused for sales. */
function stageClock(stage) {
  if (stage.finished_at) {
    return h(
      "span",
      { class: `result ${stage.on_time ? "ok" : "late"}` },
      t(stage.on_time ? "on_time" : "late"),
      " · ",
      dateTime(stage.finished_at),
    );
  }
  if (stage.waiting_for === "sales" || !stage.sla_due_at) {
    return h("span", { class: "countdown paused" }, t("paused_for_sales"));
  }
  return countdown(stage.sla_due_at);
}

/** The customer's name as the ticket carries it; the id when the service knows no name. */
function ticketCustomer(ticket) {
  return ticket.customer_name ?? customerName(ticket.customer_id);
}

/** What tech asked sales for, while the stage waits for it (nothing otherwise). */
function askedItems(stage) {
  return stage.waiting_for === "sales" && stage.missing_items?.length ? stage.missing_items : [];
}

function missingList(items) {
  return h(
    "ul",
    { class: "missing-items", "data-role": "missing-items" },
    items.map((item) => h("li", {}, item)),
  );
}

function ticketStatus(ticket) {
  return h(
    "span",
    { class: `status s-${ticket.status}`, "data-status": ticket.status },
    label("tt", ticket.status),
  );
}

function ticketRow(ticket) {
  const open = openStages(ticket);
  return h(
    "li",
    { class: "row", "data-ticket-id": ticket.ticket_id, "data-sla-row": "" },
    h(
      "div",
      { class: "row-head" },
      link(`/tickets/${ticket.ticket_id}`, h("strong", {}, ticket.product), " × ", ticket.quantity),
      ticketStatus(ticket),
    ),
    h(
      "div",
      { class: "row-meta" },
      h("span", { "data-role": "customer" }, ticketCustomer(ticket)),
      h("span", {}, personName(ticket.requester_id)),
      h("span", { class: "muted" }, dateTime(ticket.submitted_at)),
    ),
    open.length
      ? h(
          "ul",
          { class: "stage-list" },
          open.map((s) =>
            h(
              "li",
              {},
              h("span", {}, stageLabel(s)),
              h("span", { class: "muted" }, personName(s.owner_id)),
              stageClock(s),
              askedItems(s).length
                ? h(
                    "span",
                    { class: "asked", "data-role": "missing-items" },
                    t("missing_items_asked"),
                    " ",
                    askedItems(s).join(t("list_join")),
                  )
                : null,
            ),
          ),
        )
      : null,
  );
}

function earliestDue(ticket) {
  const times = openStages(ticket)
    .filter((s) => s.sla_due_at && s.waiting_for !== "sales")
    .map((s) => Date.parse(s.sla_due_at));
  return times.length ? Math.min(...times) : Infinity;
}

export async function ticketList(ctx) {
  const sales = isSales();
  ctx.title(t(sales ? "nav_tickets" : "nav_queue"));
  const list = h("ul", { class: "rows", id: "ticket-list" });
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", {}, t(sales ? "nav_tickets" : "nav_queue")),
      h(
        "p",
        { class: "hint" },
        t(sales ? "tickets_hint" : "queue_hint", {
          teams: myTeams()
            .map((team) => team.name)
            .join("、"),
        }),
      ),
      sales ? h("div", { class: "actions" }, link("/tickets/new", t("request_samples"))) : null,
    ),
    card(null, list),
  );
  async function load() {
    try {
      const tickets = await get(api("collaboration", "/tickets"));
      // Tech and logistics work the most urgent first; sales see their newest requests first.
      if (!sales) tickets.sort((a, b) => earliestDue(a) - earliestDue(b));
      fill(
        list,
        tickets.length ? tickets.map(ticketRow) : h("li", { class: "empty" }, t("no_tickets")),
      );
    } catch (error) {
      fill(list, h("li", {}, failure(error)));
    }
  }
  ctx.setRefresh(load);
  await load();
}

// ---------------------------------------------------------------- a new request

export async function newTicket(ctx) {
  ctx.title(t("request_samples"));
  const [customers, docs] = await Promise.all([loadCustomers(), documentTypes()]);
  const preselected = ctx.query.get("customer") || "";
  const documents = h(
    "fieldset",
    { class: "field checks" },
    h("legend", {}, t("documents_needed")),
    docs.map((doc) =>
      h(
        "label",
        { class: "check" },
        h("input", { type: "checkbox", name: "document_types", value: doc.id }),
        h("span", {}, documentName(doc.id)),
        h("small", {}, teamName(doc.team_id)),
      ),
    ),
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
  const form = h(
    "form",
    { class: "stack-form", "data-key": "new-ticket" },
    formError(),
    field(
      t("customer"),
      select(
        "customer_id",
        customers.map((c) => [c.customer_id, c.name]),
        { value: preselected || undefined, placeholder: t("choose") },
      ),
    ),
    field(t("product"), h("input", { name: "product", autocomplete: "off" })),
    field(
      t("quantity"),
      h("input", {
        name: "quantity",
        type: "number",
        min: 1,
        step: 1,
        inputmode: "numeric",
        value: "1",
      }),
    ),
    documents,
    field(t("note"), h("textarea", { name: "note", rows: 2 })),
    h("button", { type: "submit", class: "button primary" }, t("submit_request")),
  );
  if (preselected) form.elements.customer_id.value = preselected;
  onSubmit(form, async () => {
    const data = new FormData(form);
    const quantity = String(data.get("quantity") || "").trim();
    const created = await post(api("collaboration", "/tickets"), {
      customer_id: data.get("customer_id") || "",
      product: data.get("product"),
      quantity: /^\d+$/.test(quantity) ? Number(quantity) : quantity || null,
      document_types: data.getAll("document_types"),
      note: String(data.get("note") || "").trim() || null,
    });
    toast(t("request_sent"));
    await ctx.navigate(`/tickets/${created.ticket_id}`);
  });
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("p", { class: "crumbs" }, link("/tickets", t("nav_tickets"))),
      h("h1", {}, t("request_samples")),
      h("p", { class: "hint" }, t("request_hint", { d: sla("tech_answer") })),
    ),
    card(null, form),
  );
}

// ---------------------------------------------------------------- one ticket

function ticketFacts(ticket) {
  return h(
    "dl",
    { class: "facts" },
    h("dt", {}, t("status")),
    h("dd", {}, ticketStatus(ticket)),
    h("dt", {}, t("customer")),
    h(
      "dd",
      { "data-role": "customer" },
      isSales()
        ? link(`/customers/${ticket.customer_id}`, ticketCustomer(ticket))
        : ticketCustomer(ticket),
    ),
    h("dt", {}, t("quantity")),
    h("dd", {}, ticket.quantity),
    h("dt", {}, t("requester")),
    h("dd", {}, personName(ticket.requester_id)),
    h("dt", {}, t("submitted_at")),
    h("dd", {}, dateTime(ticket.submitted_at)),
    h("dt", {}, t("documents_needed")),
    h(
      "dd",
      {},
      h(
        "ul",
        { class: "plain" },
        ticket.document_types.map((d) => h("li", {}, documentName(d))),
      ),
    ),
    ticket.note ? [h("dt", {}, t("note")), h("dd", {}, ticket.note)] : null,
    ticket.stars
      ? [
          h("dt", {}, t("rating")),
          h(
            "dd",
            { "data-role": "stars" },
            "★".repeat(ticket.stars),
            "☆".repeat(5 - ticket.stars),
            ` (${ticket.stars})`,
          ),
        ]
      : null,
  );
}

const STAGE_ORDER = [TECH, STOCKING, "receipt_confirmation"];

function stagesTable(ticket) {
  // In the order the work flows (the API orders by start time, equal for stages begun at once).
  const stages = [...ticket.stages].sort(
    (a, b) =>
      STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage) ||
      Date.parse(a.started_at) - Date.parse(b.started_at),
  );
  return h(
    "ol",
    { class: "stages", id: "stages" },
    stages.map((s) =>
      h(
        "li",
        {
          class: `stage${s.finished_at ? " done" : ""}`,
          "data-stage": s.stage,
          "data-team": s.team_id ?? "",
          "data-sla-row": "",
        },
        h("div", { class: "row-head" }, h("strong", {}, stageLabel(s)), stageClock(s)),
        h(
          "div",
          { class: "row-meta" },
          h("span", {}, t("owner"), ": ", personName(s.owner_id)),
          s.level ? h("span", { class: "badge red" }, t("escalated_level", { n: s.level })) : null,
          h("span", { class: "muted" }, t("started_at"), " ", dateTime(s.started_at)),
          s.sla_due_at && !s.finished_at && s.waiting_for !== "sales"
            ? h("span", { class: "muted" }, t("due"), " ", dateTime(s.sla_due_at))
            : null,
        ),
        askedItems(s).length
          ? h(
              "div",
              { class: "asked" },
              h("span", { class: "label" }, t("missing_items_asked")),
              missingList(askedItems(s)),
            )
          : null,
      ),
    ),
  );
}

/** Whether the person may answer a tech stage: its group's members and its chain so far. */
function answersFor(stage) {
  const team = session.teams.find((x) => x.id === stage.team_id);
  const me = session.me.id;
  if (!team) return stage.owner_id === me;
  return (
    stage.owner_id === me ||
    team.members.includes(me) ||
    team.escalation_chain.slice(0, stage.level + 1).includes(me)
  );
}

function answerForm(ticket, stage, done) {
  const missing = h("textarea", {
    name: "missing_items",
    rows: 3,
    placeholder: t("missing_items_placeholder"),
  });
  const missingField = field(
    t("missing_items"),
    missing,
    h("p", { class: "hint" }, t("missing_items_hint")),
  );
  const radio = (value) =>
    h(
      "label",
      { class: "check" },
      h("input", { type: "radio", name: "answer", value, checked: value === "provided" }),
      h("span", {}, label("ta", value)),
    );
  const choice = h(
    "fieldset",
    { class: "field" },
    h("legend", {}, t("tech_answer")),
    radio("provided"),
    radio("needs_info"),
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
  const form = h(
    "form",
    { class: "stack-form", "data-key": `answer-${ticket.ticket_id}-${stage.team_id}` },
    formError(),
    choice,
    missingField,
    h("button", { type: "submit", class: "button primary" }, t("send_answer")),
  );
  const toggle = () => {
    missingField.hidden = form.querySelector("input[name=answer]:checked")?.value !== "needs_info";
  };
  choice.addEventListener("change", toggle);
  choice.addEventListener("input", toggle);
  toggle();
  onSubmit(form, async () => {
    const answer = form.querySelector("input[name=answer]:checked")?.value || "provided";
    const items = missing.value
      .split(/\r?\n|；|;/)
      .map((line) => line.trim())
      .filter(Boolean);
    await post(api("collaboration", `/tickets/${ticket.ticket_id}/tech/${stage.team_id}/answer`), {
      answer,
      missing_items: answer === "needs_info" ? items : [],
    });
    toast(t(answer === "provided" ? "answered_provided" : "answered_needs_info"));
    await done();
  });
  return card(`${t("your_answer")} · ${teamName(stage.team_id)}`, form);
}

function infoForm(ticket, stage, done) {
  const form = h(
    "form",
    { class: "stack-form", "data-key": `info-${ticket.ticket_id}-${stage.team_id}` },
    formError(),
    h(
      "p",
      { class: "banner warn-banner" },
      t("tech_needs_info", { team: teamName(stage.team_id) }),
    ),
    askedItems(stage).length
      ? h(
          "div",
          { class: "asked" },
          h("span", { class: "label" }, t("tech_asked_for")),
          missingList(askedItems(stage)),
        )
      : null,
    field(t("info"), h("textarea", { name: "info", rows: 3 })),
    h("button", { type: "submit", class: "button primary" }, t("supply_info")),
  );
  onSubmit(form, async () => {
    await post(api("collaboration", `/tickets/${ticket.ticket_id}/tech/${stage.team_id}/info`), {
      info: form.elements.info.value,
    });
    toast(t("info_supplied"));
    await done();
  });
  return card(`${t("supply_info")} · ${teamName(stage.team_id)}`, form);
}

/** Why stocking cannot start yet: the groups still open, and what each waits for. */
function stockingBlockers(ticket) {
  return ticket.stages
    .filter((s) => s.stage === TECH && !s.finished_at)
    .map((s) =>
      t(s.waiting_for === "sales" ? "blocked_waiting_sales" : "blocked_not_answered", {
        team: teamName(s.team_id),
      }),
    );
}

function logisticsCard(ticket, done) {
  const parts = [];
  const stocking = ticket.stages.find((s) => s.stage === STOCKING);
  const stockingOpen = stocking && !stocking.finished_at;
  if (!stocking || stockingOpen) {
    const blockers = ticket.status === "documents_complete" ? [] : stockingBlockers(ticket);
    const reasonId = `stocking-reason-${ticket.ticket_id}`;
    const form = h(
      "form",
      { class: "stack-form", "data-key": `stocking-${ticket.ticket_id}` },
      formError(),
      blockers.length
        ? h(
            "p",
            { class: "reason", id: reasonId, "data-role": "stocking-reason" },
            t("stocking_blocked"),
            " ",
            blockers.join(t("list_join")),
          )
        : null,
      h(
        "button",
        {
          type: "submit",
          class: "button primary",
          id: "start-stocking",
          disabled: blockers.length > 0,
          "aria-describedby": blockers.length ? reasonId : null,
        },
        t("start_stocking"),
      ),
    );
    onSubmit(form, async () => {
      await post(api("collaboration", `/tickets/${ticket.ticket_id}/stocking`), {});
      toast(t("stocking_started"));
      await done();
    });
    parts.push(form);
  } else if (ticket.status === "stocking") {
    const form = h(
      "form",
      { class: "stack-form", "data-key": `ship-${ticket.ticket_id}` },
      formError(),
      field(t("tracking"), h("input", { name: "tracking", autocomplete: "off" })),
      h("button", { type: "submit", class: "button primary", id: "ship" }, t("ship")),
    );
    onSubmit(form, async () => {
      await post(api("collaboration", `/tickets/${ticket.ticket_id}/shipment`), {
        tracking: form.elements.tracking.value.trim() || null,
      });
      toast(t("shipped"));
      await done();
    });
    parts.push(form);
  } else {
    parts.push(h("p", { class: "ok" }, label("tt", ticket.status)));
  }
  return card(t("logistics"), parts);
}

function receiptForm(ticket, done) {
  const form = h(
    "form",
    { class: "inline-form", "data-key": `receipt-${ticket.ticket_id}` },
    formError(),
    h(
      "button",
      { type: "submit", class: "button primary", id: "confirm-receipt" },
      t("confirm_receipt"),
    ),
  );
  onSubmit(form, async () => {
    await post(api("collaboration", `/tickets/${ticket.ticket_id}/receipt`), {});
    toast(t("receipt_confirmed"));
    await done();
  });
  return card(
    t("confirm_receipt"),
    h("p", { class: "hint" }, t("receipt_hint", { d: sla("receipt_confirmation") })),
    form,
  );
}

function ratingForm(ticket, done) {
  const stars = h(
    "fieldset",
    { class: "field stars" },
    h("legend", { class: "visually-hidden" }, t("rate_ticket")),
    [5, 4, 3, 2, 1].map((n) =>
      h(
        "label",
        { class: "star", title: t("stars_n", { n }) },
        h("input", { type: "radio", name: "stars", value: n }),
        h("span", { "aria-hidden": "true" }, "★"),
        h("span", { class: "visually-hidden" }, t("stars_n", { n })),
      ),
    ),
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
  const form = h(
    "form",
    { class: "stack-form", "data-key": `rating-${ticket.ticket_id}` },
    formError(),
    stars,
    field(t("comment"), h("textarea", { name: "comment", rows: 2 })),
    h("button", { type: "submit", class: "button primary", id: "rate" }, t("rate")),
  );
  onSubmit(form, async () => {
    const chosen = form.querySelector("input[name=stars]:checked")?.value;
    await post(api("collaboration", `/tickets/${ticket.ticket_id}/rating`), {
      stars: chosen ? Number(chosen) : null,
      comment: form.elements.comment.value.trim() || null,
    });
    toast(t("rated"));
    await done();
  });
  return card(
    t("rate_ticket"),
    h(
      "p",
      { class: "hint" },
      t("rating_hint", {
        n: session.config.quality_alert_ratings,
        stars: session.config.quality_alert_below_stars,
      }),
    ),
    form,
  );
}

export async function ticketDetail(ctx) {
  const id = ctx.params[0];
  const head = h("div", { class: "screen-head" });
  const body = h("div", { class: "ticket-body" });
  const actions = h("div", { class: "ticket-actions" });
  ctx.view.append(head, body, actions);
  let drawnVersion = null;
  async function load() {
    let ticket;
    try {
      [ticket] = await Promise.all([
        get(api("collaboration", `/tickets/${id}`)),
        documentTypes().catch(() => []),
      ]);
    } catch (error) {
      ctx.title(t("ticket"));
      fill(body, failure(error));
      return;
    }
    ctx.title(`${ticket.product} · ${t("ticket")}`);
    fill(
      head,
      h("p", { class: "crumbs" }, link("/tickets", t(isSales() ? "nav_tickets" : "nav_queue"))),
      h("h1", {}, ticket.product, " × ", ticket.quantity),
    );
    fill(body, card(null, ticketFacts(ticket)), card(t("stages"), stagesTable(ticket)));
    // The action forms are redrawn only when the ticket changed, so a live refresh never
    // takes away what someone is typing.
    if (drawnVersion === ticket.version) return;
    drawnVersion = ticket.version;
    const parts = [];
    const me = session.me.id;
    for (const stage of ticket.stages) {
      if (stage.stage !== TECH || stage.finished_at) continue;
      if (stage.waiting_for === "sales") {
        if (ticket.requester_id === me) parts.push(infoForm(ticket, stage, load));
      } else if (isTech() && answersFor(stage)) {
        parts.push(answerForm(ticket, stage, load));
      }
    }
    if (isLogistics()) parts.push(logisticsCard(ticket, load));
    if (ticket.requester_id === me && ticket.status === "shipped")
      parts.push(receiptForm(ticket, load));
    if (ticket.requester_id === me && ticket.status === "received")
      parts.push(ratingForm(ticket, load));
    fill(actions, parts);
  }
  ctx.setRefresh(load);
  await load();
}
