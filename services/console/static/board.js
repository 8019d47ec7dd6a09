// For everyone: the SLA board (every open collaboration stage, overdue first, with a live
// countdown) and the metrics dashboard (the three action-certainty indicators and the
// activity figures beside them), both refreshed live when the metrics service announces
// a change.

import { api, get, query } from "./api.js";
import { card, failure, fill, h, link, select } from "./dom.js";
import { dateTime, duration, money, serverNow } from "./format.js";
import { label, language, t } from "./i18n.js";
import { countdown } from "./live.js";
import {
  customerName,
  isSales,
  loadCustomers,
  personName,
  session,
  stageName,
  teamName,
} from "./session.js";

// ---------------------------------------------------------------- SLA board

function boardRow(line) {
  const clock =
    line.status === "waiting_for_sales" || !line.due_at
      ? h("span", { class: "countdown paused" }, t("paused_for_sales"))
      : countdown(line.due_at);
  const cell = (key, ...content) => h("td", { "data-label": t(key) }, ...content);
  return h(
    "tr",
    { class: `sla-${line.status}`, "data-ticket-id": line.ticket_id, "data-sla-row": "" },
    cell(
      "ticket",
      link(`/tickets/${line.ticket_id}`, line.product),
      h("small", {}, customerName(line.customer_id)),
    ),
    cell(
      "stage",
      stageName(line.stage),
      line.team_id ? h("small", {}, teamName(line.team_id)) : null,
    ),
    cell(
      "owner",
      personName(line.owner_id),
      line.escalation_level
        ? h("small", {}, t("escalated_level", { n: line.escalation_level }))
        : null,
    ),
    cell("due", line.due_at ? dateTime(line.due_at) : "—"),
    cell("time_left_col", clock),
    cell(
      "status",
      h(
        "span",
        { class: `status s-${line.status}`, "data-status": line.status },
        label("sla", line.status),
      ),
    ),
  );
}

export async function slaBoard(ctx) {
  ctx.title(t("nav_board"));
  const body = h("tbody");
  const table = h(
    "table",
    { class: "sla-table", id: "sla-board" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["ticket", "stage", "owner", "due", "time_left_col", "status"].map((key) =>
          h("th", {}, t(key)),
        ),
      ),
    ),
    body,
  );
  const empty = h("p", { class: "empty", hidden: true }, t("no_open_stages"));
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", {}, t("nav_board")),
      h("p", { class: "hint" }, t("board_hint")),
    ),
    card(null, h("div", { class: "table-wrap" }, table), empty),
  );
  async function load() {
    try {
      const [lines] = await Promise.all([
        get(api("collaboration", "/sla-board")),
        isSales() ? loadCustomers().catch(() => []) : [],
      ]);
      fill(body, lines.map(boardRow));
      empty.hidden = lines.length > 0;
      table.hidden = lines.length === 0;
    } catch (error) {
      fill(body, h("tr", {}, h("td", { colspan: 6 }, failure(error))));
    }
  }
  ctx.setRefresh(load);
  await load();
}

// ---------------------------------------------------------------- dashboard

function figureText(figure) {
  if (figure.value === null || figure.value === undefined) return t("no_data");
  return figure.shape === "per_record" ? figure.value : `${figure.value}%`;
}

function figureTitle(figure) {
  return language() === "zh" ? figure.title_zh : figure.title_en;
}

function figureTile(figure, { indicator = false } = {}) {
  const health = figure.health || "none";
  return h(
    "div",
    {
      class: `tile health-${health}${indicator ? " indicator" : ""}`,
      "data-measure": figure.measure,
    },
    h("h3", { class: "tile-title" }, figureTitle(figure)),
    h("p", { class: "tile-value", "data-value": figure.value ?? "" }, figureText(figure)),
    h(
      "p",
      { class: "tile-facts" },
      figure.health
        ? h("span", { class: `badge health-${figure.health}` }, label("health", figure.health))
        : null,
      figure.threshold_pct ? h("span", {}, t("threshold"), " ", figure.threshold_pct, "%") : null,
      h("span", { "data-role": "sums" }, money(figure.numerator), " / ", money(figure.denominator)),
    ),
  );
}

function statTile(key, value, extra, role) {
  return h(
    "div",
    { class: "stat", "data-role": role },
    h("span", { class: "stat-label" }, t(key)),
    h("strong", { class: "stat-value", "data-value": value ?? "" }, value ?? t("no_data")),
    extra ? h("small", {}, extra) : null,
  );
}

function durationTile(key, stats, role) {
  return statTile(
    key,
    stats.median_seconds === null ? null : duration(stats.median_seconds),
    t("records_n", { n: stats.count }),
    role,
  );
}

function activityView(activity) {
  const c = activity.concessions;
  return [
    h(
      "div",
      { class: "tiles four" },
      [
        "next_actions_on_time",
        "daily_report_validity",
        "support_answered_on_time",
        "a_tier_follow_ups_per_customer",
      ].map((name) => figureTile(activity[name])),
    ),
    h("h3", {}, t("concessions")),
    h(
      "div",
      { class: "counters", id: "concessions" },
      ["exceeded", "approved", "rejected", "pending"].map((k) =>
        h(
          "div",
          { class: `counter ${k}`, "data-role": `concessions-${k}` },
          h("strong", {}, c[k]),
          h("span", {}, t(`concessions_${k}`)),
        ),
      ),
    ),
    h(
      "div",
      { class: "stats" },
      durationTile("sample_delivery", activity.sample_delivery, "sample-delivery"),
      durationTile("tech_answer_time", activity.tech_answer, "tech-answer"),
    ),
    h("h3", {}, t("department_ratings")),
    activity.department_ratings.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "compact", id: "ratings" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", {}, t("team")),
                h("th", { class: "num" }, t("ratings")),
                h("th", { class: "num" }, t("mean_stars")),
                h(
                  "th",
                  { class: "num" },
                  t("below_bar", { stars: session.config.quality_alert_below_stars }),
                ),
              ),
            ),
            h(
              "tbody",
              {},
              activity.department_ratings.map((r) =>
                h(
                  "tr",
                  { "data-team": r.team_id },
                  h("th", { scope: "row" }, teamName(r.team_id)),
                  h("td", { class: "num", "data-role": "ratings" }, r.ratings),
                  h("td", { class: "num", "data-role": "mean-stars" }, r.mean_stars),
                  h("td", { class: "num", "data-role": "below-bar" }, r.below_bar),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, t("no_ratings")),
  ];
}

export async function dashboard(ctx) {
  ctx.title(t("nav_dashboard"));
  let units;
  try {
    units = await get(api("metrics", "/units"));
  } catch (error) {
    ctx.view.append(failure(error));
    return;
  }
  const unit = ctx.query.get("unit") || units.default;
  const picker = select(
    "unit",
    units.nodes.map((n) => [n.id, n.kind === "rep" ? `${n.name}` : n.name]),
    { value: unit },
  );
  picker.addEventListener("change", () =>
    ctx.navigate(`/dashboard${query({ unit: picker.value })}`),
  );
  const period = h("span", { class: "muted", id: "period" });
  const indicators = h("div", { class: "tiles", id: "indicators" });
  const activity = h("div", { id: "activity" });
  ctx.view.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", {}, t("nav_dashboard")),
      h("p", { class: "hint" }, t("dashboard_hint")),
    ),
    h("div", { class: "toolbar" }, h("label", { class: "inline" }, t("unit"), picker), period),
    card(t("indicators"), indicators),
    card(t("activity"), activity),
  );
  async function load() {
    try {
      const here = query({ unit });
      const [found, act] = await Promise.all([
        get(api("metrics", `/indicators${here}`)),
        get(api("metrics", `/activity${here}`)),
      ]);
      period.textContent = t("period_of", {
        period: found.period,
        at: dateTime(new Date(serverNow()).toISOString()),
      });
      fill(
        indicators,
        found.figures.map((f) => figureTile(f, { indicator: true })),
      );
      fill(activity, activityView(act));
    } catch (error) {
      fill(indicators, failure(error));
    }
  }
  ctx.setRefresh(load);
  await load();
}
