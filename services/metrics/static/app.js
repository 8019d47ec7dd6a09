// The metrics dashboard: the three indicators, their trends and drill-down, the SLA board,
// customers needing attention, the health dashboard, activity and the cause tree, all
// from the metrics API, refreshed live when the figures change.

import { figureData, gauge, trendChart } from "./charts.js";
import { ApiError, TokenStore, Unauthorized, apiClient, query } from "./common-api.js";
import { h } from "./common-dom.js";
import { dateTime, grouped, offsetMinutes, setOrgOffset } from "./common-format.js";
import { LiveUpdates } from "./common-live.js";
import { days, duration, figureText, signed, sumsText } from "./format.js";
import { known, language, setLanguage, t, title, translatePage } from "./i18n.js";

const INDICATORS = ["penetration", "trace", "on_time"];
const PERIOD_KINDS = ["day", "week", "month", "quarter"];
// How many periods of each kind the period picker offers (the API allows up to 36).
const PERIOD_CHOICES = { day: 31, week: 12, month: 12, quarter: 8 };
const LANGUAGE_KEY = "salesops.metrics.language";
// The token is kept for this tab only: closing it signs the dashboard out.
const tokens = new TokenStore("salesops.metrics.token", sessionStorage);
const { get } = apiClient(tokens);

const state = {
  // What each measure can be split by, from GET /measures: measure name -> dimensions.
  dimensions: {},
  // Names of people and teams by id, from GET /names.
  names: { people: {}, teams: {} },
  nodes: [],
  byId: new Map(),
  defaultUnit: null,
  unit: null,
  kind: "month",
  period: null,
  periodChoices: {},
  cause: { measure: "trace", dimension: "org_unit", before: null, after: null },
  records: null,
  data: {},
  errors: {},
};
let refreshSeq = 0;
let live = null;

const $ = (selector) => document.querySelector(selector);

function nodeName(id) {
  return state.byId.get(id)?.name ?? state.names.people[id] ?? id ?? "—";
}

function teamName(id) {
  return state.names.teams[id] ?? id;
}

function kindOf(label) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(label)) return "day";
  if (/^\d{4}-W\d{2}$/.test(label)) return "week";
  if (/^\d{4}-Q\d$/.test(label)) return "quarter";
  return "month";
}

// ---------------------------------------------------------------- sign-in

function showSignIn(expired) {
  live?.stop();
  live = null;
  $("#main").hidden = true;
  $("#sign-out").hidden = true;
  $("#sign-in").hidden = false;
  $("#sign-in-expired").hidden = !expired;
  $("#token").value = "";
  $("#token").focus();
}

function onSignIn(event) {
  event.preventDefault();
  const given = $("#token").value.trim();
  if (!given) return;
  tokens.save(given);
  start();
}

function onSignOut() {
  tokens.forget();
  showSignIn(false);
}

// ---------------------------------------------------------------- start

async function start() {
  $("#sign-in").hidden = true;
  $("#main").hidden = false;
  $("#sign-out").hidden = false;
  state.data = {};
  state.errors = {};
  state.records = null;
  try {
    const [units, measures, names] = await Promise.all([
      get("/units"),
      get("/measures"),
      get("/names"),
    ]);
    state.dimensions = Object.fromEntries(measures.map((m) => [m.name, m.dimensions]));
    state.names = names;
    state.nodes = units.nodes;
    state.byId = new Map(units.nodes.map((n) => [n.id, n]));
    state.defaultUnit = units.default;
    state.unit = units.default;
    // The server's clock decides which period is "now", never the browser's.
    const first = await get(`/indicators${query({ unit: state.unit })}`);
    setOrgOffset(offsetMinutes(first.starts_at));
    state.period = first.period;
    state.kind = kindOf(first.period);
    state.data.indicators = first;
    await loadPeriodChoices(state.kind);
    resetCausePeriods();
  } catch (error) {
    if (error instanceof Unauthorized) return showSignIn(true);
    showBanner(t("error", { msg: error.message }));
    return;
  }
  renderControls();
  await refresh();
  live = new LiveUpdates({
    url: "/changes",
    headers: () => tokens.headers(),
    refresh,
    onState: showLiveState,
    onUnauthorized: () => showSignIn(true),
  });
  live.start();
}

/** The labels of the recent periods of a kind, newest first, as the server counts them. */
async function loadPeriodChoices(kind) {
  if (state.periodChoices[kind]) return state.periodChoices[kind];
  const found = await get(
    `/figures/trace/trend${query({ unit: state.unit, kind, count: PERIOD_CHOICES[kind] })}`,
  );
  state.periodChoices[kind] = found.points.map((p) => p.period).reverse();
  return state.periodChoices[kind];
}

function resetCausePeriods() {
  const choices = state.periodChoices[state.kind] ?? [state.period];
  const at = Math.max(choices.indexOf(state.period), 0);
  state.cause.after = state.period;
  state.cause.before = choices[Math.min(at + 1, choices.length - 1)];
}

// ---------------------------------------------------------------- refresh

function causesPath() {
  const { measure, dimension, before, after } = state.cause;
  if (!before || !after) return null;
  return `/causes${query({ measure, dimension, before, after, unit: state.unit })}`;
}

/** Fetch every figure on the page for the chosen unit and period, then draw them. */
async function refresh() {
  const seq = ++refreshSeq;
  const { unit, period, kind } = state;
  const here = query({ unit, period });
  fitCauseDimension();
  const jobs = {
    indicators: get(`/indicators${here}`),
    trends: Promise.all(
      INDICATORS.map((m) =>
        get(`/figures/${m}/trend${query({ unit, kind, count: 6, until: period })}`),
      ),
    ),
    drill: Promise.all(INDICATORS.map((m) => get(`/figures/${m}/drill-down${here}`))),
    sla: get(`/sla-board${query({ unit })}`),
    attention: get(`/attention${query({ unit })}`),
    health: get(`/health-dashboard${here}`),
    activity: get(`/activity${here}`),
    causes: causesPath() ? get(causesPath()) : Promise.resolve(null),
    records: recordsOf(state.records?.path),
  };
  const names = Object.keys(jobs);
  const settled = await Promise.allSettled(Object.values(jobs));
  if (seq !== refreshSeq) return; // a newer refresh (another unit, period...) is under way
  const failures = settled.filter((r) => r.status === "rejected").map((r) => r.reason);
  if (failures.some((e) => e instanceof Unauthorized)) return showSignIn(true);
  if (failures.some((e) => e instanceof ApiError && e.status === 403) && unit !== state.defaultUnit) {
    showBanner(t("not_visible"));
    return setUnit(state.defaultUnit);
  }
  state.errors = {};
  settled.forEach((result, i) => {
    if (result.status === "fulfilled") state.data[names[i]] = result.value;
    else state.errors[names[i]] = result.reason;
  });
  const firstError = failures.find((e) => !(e instanceof Unauthorized));
  if (firstError) showBanner(t("error", { msg: firstError.message }));
  else hideBanner();
  renderAll();
}

function renderAll() {
  renderIndicators();
  renderDrillDown();
  renderSla();
  renderAttention();
  renderHealth();
  renderActivity();
  renderCauseControls();
  renderCauses();
  renderRecords();
  document.body.dataset.loadedUnit = state.unit;
  document.body.dataset.loadedPeriod = state.period;
}

// ---------------------------------------------------------------- controls

function setUnit(id) {
  if (!state.byId.has(id)) return;
  state.unit = id;
  state.records = null;
  renderControls();
  refresh();
}

async function setKind(kind) {
  state.kind = kind;
  try {
    const choices = await loadPeriodChoices(kind);
    state.period = choices[0];
  } catch (error) {
    if (error instanceof Unauthorized) return showSignIn(true);
    showBanner(t("error", { msg: error.message }));
    return;
  }
  resetCausePeriods();
  state.records = null;
  renderControls();
  refresh();
}

function setPeriod(label) {
  state.period = label;
  resetCausePeriods();
  state.records = null;
  renderControls();
  refresh();
}

function depthOf(node) {
  let depth = 0;
  let parent = state.byId.get(node.parent_id);
  while (parent) {
    depth += 1;
    parent = state.byId.get(parent.parent_id);
  }
  return depth;
}

function renderControls() {
  const unitSelect = $("#unit");
  unitSelect.replaceChildren(
    ...state.nodes.map((n) =>
      h(
        "option",
        { value: n.id, selected: n.id === state.unit },
        "\u00a0\u00a0".repeat(depthOf(n)) + n.name,
      ),
    ),
  );
  $("#period-kind").replaceChildren(
    ...PERIOD_KINDS.map((k) => h("option", { value: k, selected: k === state.kind }, t(`kind_${k}`))),
  );
  const choices = state.periodChoices[state.kind] ?? [state.period];
  $("#period").replaceChildren(
    ...choices.map((p) => h("option", { value: p, selected: p === state.period }, p)),
  );
  const path = [];
  for (let n = state.byId.get(state.unit); n; n = state.byId.get(n.parent_id)) path.unshift(n);
  $("#crumbs").replaceChildren(
    ...path.map((n, i) =>
      i === path.length - 1
        ? h("span", { class: "crumb current", "aria-current": "page" }, n.name)
        : h("button", { type: "button", class: "crumb", onclick: () => setUnit(n.id) }, n.name),
    ),
  );
  $("#lang").textContent = t("language_button");
}

function showLiveState(mode) {
  const el = $("#live");
  el.dataset.live = mode;
  el.textContent = t(
    { stream: "live_stream", polling: "live_polling", connecting: "live_connecting" }[mode],
  );
}

function showBanner(text) {
  const banner = $("#banner");
  banner.textContent = text;
  banner.hidden = false;
}

function hideBanner() {
  $("#banner").hidden = true;
}

function toggleLanguage() {
  setLanguage(language() === "zh" ? "en" : "zh");
  localStorage.setItem(LANGUAGE_KEY, language());
  translatePage();
  document.title = `${t("app_title")} · ${t("app_subtitle")}`;
  if (!$("#main").hidden && state.unit) {
    renderControls();
    showLiveState($("#live").dataset.live || "connecting");
    renderAll();
  }
}

// ---------------------------------------------------------------- sections

function failed(section, container) {
  const error = state.errors[section];
  if (!error && state.data[section] !== undefined) return false;
  container.replaceChildren(
    h("p", { class: "empty" }, error ? t("error", { msg: error.message }) : t("loading")),
  );
  return true;
}

function healthText(figure) {
  if (!figure.health) return "";
  return figure.health === "no_data" ? t("no_data") : t(figure.health);
}

function renderIndicators() {
  const container = $("#gauges");
  if (failed("indicators", container)) return;
  const trends = state.data.trends ?? [];
  container.replaceChildren(
    ...state.data.indicators.figures.map((figure) => {
      const trend = trends.find((tr) => tr.measure === figure.measure);
      return h(
        "article",
        { class: `tile health-${figure.health ?? "no_data"}`, "data-indicator": figure.measure },
        h("h3", { class: "tile-title" }, title(figure)),
        h("div", { class: "gauge" }, gauge(figure)),
        h(
          "p",
          { class: "tile-facts" },
          h("span", { class: `badge health-${figure.health ?? "no_data"}` }, healthText(figure)),
          h("span", { class: "sums" }, sumsText(figure)),
          figure.threshold_pct !== null
            ? h("span", { class: "threshold" }, `${t("threshold")} ≥ ${figure.threshold_pct}%`)
            : null,
        ),
        h(
          "div",
          { class: "trend" },
          trend ? trendChart(trend.points) : h("p", { class: "empty" }, t("loading")),
        ),
      );
    }),
  );
}

function figureCell(figure) {
  return h(
    "td",
    { class: "num" },
    h(
      "span",
      { class: `figure-value health-${figure.health ?? "none"}`, ...figureData(figure) },
      figureText(figure),
    ),
    h("small", { class: "sums" }, sumsText(figure)),
  );
}

function renderDrillDown() {
  const table = $("#drill");
  if (failed("drill", table)) return;
  const views = state.data.drill;
  const lines = views[0].lines;
  const head = h(
    "thead",
    {},
    h(
      "tr",
      {},
      h("th", {}, t("node")),
      views.map((v) => h("th", { class: "num" }, title(v.lines[0].figure))),
    ),
  );
  const rows = lines.map((line, i) => {
    const self = i === 0;
    const name = self
      ? h("strong", {}, line.node.name)
      : h(
          "button",
          { type: "button", class: "nav", "data-nav": line.node.id, onclick: () => setUnit(line.node.id) },
          line.node.name,
        );
    return h(
      "tr",
      { class: self ? "self" : "child", "data-node": line.node.id, "data-kind": line.node.kind },
      h("th", { scope: "row" }, name),
      views.map((v) => figureCell(v.lines[i].figure)),
    );
  });
  const body = h("tbody", {}, rows);
  if (lines.length === 1) {
    body.append(h("tr", {}, h("td", { colspan: views.length + 1, class: "empty" }, t("no_children"))));
  }
  table.replaceChildren(head, body);
}

function renderSla() {
  const container = $("#sla");
  if (failed("sla", container)) return;
  const stages = state.data.sla;
  if (!stages.length) {
    container.replaceChildren(h("p", { class: "empty" }, t("no_open_stages")));
    return;
  }
  container.replaceChildren(
    h(
      "table",
      { class: "sla-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["ticket", "stage", "owner", "customer", "due", "status"].map((k) => h("th", {}, t(k))),
        ),
      ),
      h(
        "tbody",
        {},
        stages.map((s) =>
          h(
            "tr",
            {
              class: s.overdue ? "overdue" : "on-track",
              "data-ticket": s.ticket_id,
              "data-stage": s.stage,
              "data-overdue": String(s.overdue),
              "data-seconds-left": s.seconds_left ?? "",
              "data-overdue-seconds": s.overdue_seconds ?? "",
            },
            h("td", { "data-label": t("ticket") }, s.ticket_id),
            h(
              "td",
              { "data-label": t("stage") },
              known("stage_", s.stage),
              s.team_id ? h("small", {}, teamName(s.team_id)) : null,
            ),
            h("td", { "data-label": t("owner") }, nodeName(s.owner_id)),
            h(
              "td",
              { "data-label": t("customer") },
              s.customer_name ?? s.customer_id ?? "—",
              s.product ? h("small", {}, s.product) : null,
            ),
            h("td", { "data-label": t("due") }, dateTime(s.due_at)),
            h(
              "td",
              { class: "status", "data-label": t("status") },
              s.overdue
                ? t("overdue_by", { d: duration(s.overdue_seconds ?? 0) })
                : s.seconds_left === null
                  ? "—"
                  : t("time_left", { d: duration(s.seconds_left) }),
            ),
          ),
        ),
      ),
    ),
  );
}

function renderAttention() {
  const container = $("#attention");
  if (failed("attention", container)) return;
  const customers = state.data.attention;
  if (!customers.length) {
    container.replaceChildren(h("p", { class: "empty" }, t("no_attention")));
    return;
  }
  container.replaceChildren(
    h(
      "ul",
      { class: "attention-list" },
      customers.map((c) =>
        h(
          "li",
          {
            "data-customer": c.customer_id,
            "data-stale": String(c.stale),
            "data-red": String(c.red_flagged),
            class: [c.stale ? "stale" : "", c.red_flagged ? "red" : ""].join(" ").trim(),
          },
          h(
            "div",
            { class: "who" },
            h("strong", {}, c.name ?? c.customer_id),
            h("small", {}, `${c.customer_id} · ${t("owner")} ${nodeName(c.owner_id)}`),
          ),
          h(
            "div",
            { class: "flags" },
            c.stale ? h("span", { class: "badge stale" }, t("stale")) : null,
            c.red_flagged ? h("span", { class: "badge red" }, t("red_flag")) : null,
          ),
          h("small", { class: "when" }, `${t("last_contact")} ${dateTime(c.last_contact_at)}`),
        ),
      ),
    ),
  );
}

function stat(figure, label) {
  return h(
    "div",
    { class: "stat" },
    h("span", { class: "stat-label" }, label ?? title(figure)),
    h("span", { class: "stat-value figure-value", ...figureData(figure) }, figureText(figure)),
    h("small", { class: "sums" }, sumsText(figure)),
  );
}

function durationStat(label, key, stats) {
  return h(
    "div",
    { class: "stat", "data-duration": key },
    h("span", { class: "stat-label" }, label),
    h(
      "span",
      { class: "stat-value", "data-seconds": stats.median_seconds ?? "" },
      stats.median_seconds === null ? t("no_data") : duration(stats.median_seconds),
    ),
    h(
      "small",
      { "data-p90-seconds": stats.p90_seconds ?? "" },
      `${t("p90")} ${stats.p90_seconds === null ? "—" : duration(stats.p90_seconds)}` +
        ` · ${t("count")} ${stats.count}`,
    ),
  );
}

function renderHealth() {
  const container = $("#health");
  if (failed("health", container)) return;
  const view = state.data.health;
  const kinds = Object.entries(view.payments_by_kind);
  const total = kinds.reduce((sum, [, amount]) => sum + Number(amount), 0);
  const payments = h(
    "div",
    { class: "block" },
    h("h3", {}, t("payments_by_kind")),
    kinds.length
      ? [
          h(
            "div",
            { class: "stack", role: "img", "aria-label": t("payments_by_kind") },
            kinds.map(([kind, amount]) =>
              h("span", {
                class: `stack-part pay-${kind}`,
                style: `flex-grow:${total ? Number(amount) / total : 0}`,
                title: `${known("pay_", kind)} ${grouped(amount)}`,
              }),
            ),
          ),
          h(
            "ul",
            { class: "legend" },
            kinds.map(([kind, amount]) =>
              h(
                "li",
                { "data-kind": kind, "data-amount": amount },
                h("span", { class: `dot pay-${kind}` }),
                known("pay_", kind),
                h("strong", {}, grouped(amount)),
              ),
            ),
          ),
        ]
      : h("p", { class: "empty" }, t("no_data")),
  );
  const cycle = view.repurchase_cycle.median_seconds;
  const industry = view.industry_repurchase_cycle_seconds;
  const longest = Math.max(cycle ?? 0, industry, 1);
  const repurchase = h(
    "div",
    { class: "block" },
    h("h3", {}, t("repurchase_cycle")),
    h(
      "div",
      { class: "compare" },
      h(
        "div",
        { class: "compare-row" },
        h("span", {}, t("median")),
        h("span", { class: "bar" }, h("span", { style: `width:${((cycle ?? 0) / longest) * 100}%` })),
        h("strong", { "data-seconds": cycle ?? "", "data-role": "repurchase" }, days(cycle)),
      ),
      h(
        "div",
        { class: "compare-row industry" },
        h("span", {}, t("industry_mean")),
        h("span", { class: "bar" }, h("span", { style: `width:${(industry / longest) * 100}%` })),
        h("strong", { "data-seconds": industry, "data-role": "industry" }, days(industry)),
      ),
    ),
    h("small", {}, `${t("count")} ${view.repurchase_cycle.count}`),
  );
  container.replaceChildren(
    h("h3", {}, t("collection_rate_beside")),
    h(
      "div",
      { class: "stats pair" },
      stat(view.collection_rate),
      stat(view.natural_collection_share),
    ),
    payments,
    repurchase,
    h("div", { class: "stats" }, stat(view.first_order_margin, t("first_order_margin"))),
  );
}

function renderActivity() {
  const container = $("#activity");
  if (failed("activity", container)) return;
  const view = state.data.activity;
  const c = view.concessions;
  const teams = Object.entries(view.tech_answer_by_team);
  container.replaceChildren(
    h(
      "div",
      { class: "stats" },
      stat(view.a_tier_follow_ups_per_customer),
      stat(view.next_actions_on_time),
      stat(view.daily_report_validity),
      stat(view.support_answered_on_time),
    ),
    h("h3", {}, t("concessions")),
    h(
      "div",
      { class: "counters" },
      ["exceeded", "approved", "rejected", "pending"].map((k) =>
        h("div", { class: `counter ${k}`, "data-concessions": k, "data-count": c[k] }, h("strong", {}, c[k]), t(k)),
      ),
    ),
    h(
      "div",
      { class: "stats pair" },
      durationStat(t("sample_delivery"), "sample_delivery", view.sample_delivery),
      durationStat(t("tech_answer"), "tech_answer", view.tech_answer),
    ),
    teams.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "compact" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", {}, t("team")),
                h("th", { class: "num" }, t("median")),
                h("th", { class: "num" }, t("p90")),
                h("th", { class: "num" }, t("count")),
              ),
            ),
            h(
              "tbody",
              {},
              teams.map(([team, s]) =>
                h(
                  "tr",
                  { "data-team": team },
                  h("td", {}, teamName(team)),
                  h("td", { class: "num" }, duration(s.median_seconds)),
                  h("td", { class: "num" }, duration(s.p90_seconds)),
                  h("td", { class: "num" }, s.count),
                ),
              ),
            ),
          ),
        )
      : null,
    h("h3", {}, t("department_ratings")),
    view.department_ratings.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "compact" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", {}, t("team")),
                h("th", { class: "num" }, t("ratings")),
                h("th", { class: "num" }, t("mean_stars")),
                h("th", { class: "num" }, t("below_bar")),
              ),
            ),
            h(
              "tbody",
              {},
              view.department_ratings.map((r) =>
                h(
                  "tr",
                  { "data-team": r.team_id, "data-mean-stars": r.mean_stars },
                  h("td", {}, teamName(r.team_id)),
                  h("td", { class: "num" }, r.ratings),
                  h("td", { class: "num" }, `${r.mean_stars} ★`),
                  h("td", { class: r.below_bar ? "num warn" : "num" }, r.below_bar),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, t("no_ratings")),
  );
}

// ---------------------------------------------------------------- cause tree

/** Every measure's name as the API titles it, from the figures already on the page. */
function measureTitles() {
  const titles = {};
  const add = (figure) => {
    if (figure?.measure) titles[figure.measure] = title(figure);
  };
  state.data.indicators?.figures.forEach(add);
  const { activity, health } = state.data;
  if (activity) Object.values(activity).forEach((v) => add(v));
  if (health) Object.values(health).forEach((v) => add(v));
  return titles;
}

function allowedDimensions(measure) {
  const dims = state.dimensions[measure] ?? ["org_unit"];
  const node = state.byId.get(state.unit);
  return node?.kind === "rep" ? dims.filter((d) => d !== "org_unit") : dims;
}

function fitCauseDimension() {
  const allowed = allowedDimensions(state.cause.measure);
  if (!allowed.includes(state.cause.dimension)) state.cause.dimension = allowed[0];
}

function renderCauseControls() {
  const titles = measureTitles();
  $("#cause-measure").replaceChildren(
    ...Object.keys(state.dimensions).map((m) =>
      h("option", { value: m, selected: m === state.cause.measure }, titles[m] ?? m),
    ),
  );
  $("#cause-dimension").replaceChildren(
    ...allowedDimensions(state.cause.measure).map((d) =>
      h("option", { value: d, selected: d === state.cause.dimension }, t(`dim_${d}`)),
    ),
  );
  const choices = state.periodChoices[state.kind] ?? [];
  for (const which of ["before", "after"]) {
    $(`#cause-${which}`).replaceChildren(
      ...choices.map((p) => h("option", { value: p, selected: p === state.cause[which] }, p)),
    );
  }
}

function onCauseChange() {
  state.cause.measure = $("#cause-measure").value;
  state.cause.dimension = $("#cause-dimension").value;
  state.cause.before = $("#cause-before").value;
  state.cause.after = $("#cause-after").value;
  fitCauseDimension();
  state.records = null;
  refresh();
}

function segmentLabel(view, part) {
  if (view.dimension === "org_unit" || part.label !== part.segment) return part.label;
  const segment = part.segment;
  if (segment === "target") return t("seg_target");
  if (segment === "none" || segment === "unknown") return t(`seg_${segment}`);
  const prefixes = {
    stage: "stage_",
    payment_kind: "pay_",
    decision_state: "ds_",
    obstacle: "ob_",
  };
  if (prefixes[view.dimension]) return known(prefixes[view.dimension], segment);
  if (view.dimension === "kind" && segment.includes(":")) {
    const [record, kind] = segment.split(":");
    return `${known("kind_", record)} · ${known("kind_", kind)}`;
  }
  return segment;
}

function valueText(value, percent = true) {
  if (value === null || value === undefined) return t("no_data");
  return percent ? `${value}%` : value;
}

function renderCauses() {
  const container = $("#causes");
  if (failed("causes", container)) return;
  const view = state.data.causes;
  if (!view) {
    container.replaceChildren();
    return;
  }
  const measureTitle = measureTitles()[view.measure] ?? view.measure;
  const parts = view.parts;
  const largest = Math.max(...parts.map((p) => Math.abs(Number(p.change_pct ?? 0))), 0);
  const summary = h(
    "p",
    { class: "cause-summary" },
    h("strong", {}, measureTitle),
    " ",
    h("span", { "data-role": "before-value", "data-value": view.before_value ?? "" }, valueText(view.before_value)),
    ` (${view.before}) → `,
    h("span", { "data-role": "after-value", "data-value": view.after_value ?? "" }, valueText(view.after_value)),
    ` (${view.after}) · ${t("total_change")} `,
    h(
      "span",
      { "data-role": "total-change", "data-value": view.total_change_pct ?? "" },
      view.total_change_pct === null ? "—" : t("change_points", { v: signed(view.total_change_pct) }),
    ),
  );
  const list = parts.length
    ? h(
        "ul",
        { class: "parts" },
        parts.map((part) => {
          const change = part.change_pct === null ? null : Number(part.change_pct);
          const width = largest && change !== null ? (Math.abs(change) / largest) * 50 : 0;
          const label = segmentLabel(view, part);
          return h(
            "li",
            { class: "part", "data-segment": part.segment, "data-change": part.change_pct ?? "" },
            h("span", { class: "part-label" }, label),
            h(
              "span",
              { class: "part-bar", "aria-hidden": "true" },
              h("span", {
                class: change !== null && change < 0 ? "down" : "up",
                style:
                  change !== null && change < 0
                    ? `right:50%;width:${width}%`
                    : `left:50%;width:${width}%`,
              }),
            ),
            h(
              "span",
              { class: "part-change" },
              part.change_pct === null ? "—" : t("change_points", { v: signed(part.change_pct) }),
              part.share_of_change_pct === null
                ? null
                : h("small", {}, t("share_of_change", { v: part.share_of_change_pct })),
            ),
            h(
              "span",
              { class: "part-sums" },
              `${grouped(part.before[0])}/${grouped(part.before[1])} → ${grouped(part.after[0])}/${grouped(part.after[1])}`,
            ),
            h(
              "span",
              { class: "part-links" },
              [
                ["records_before", view.before],
                ["records_after", view.after],
              ].map(([key, period]) =>
                part[key]
                  ? h(
                      "button",
                      {
                        type: "button",
                        class: "link",
                        "data-records": key,
                        onclick: () => openRecords(part[key], label, period),
                      },
                      t(key),
                    )
                  : null,
              ),
            ),
          );
        }),
      )
    : h("p", { class: "empty" }, t("no_parts"));
  container.replaceChildren(summary, list);
}

/** The records behind a part, tagged with the link they came from. */
function recordsOf(path) {
  return path ? get(path).then((body) => ({ path, body })) : Promise.resolve(null);
}

function openRecords(path, label, period) {
  state.records = { path, label, period };
  state.errors.records = undefined;
  renderRecords();
  recordsOf(path)
    .then((found) => {
      if (state.records?.path !== path) return;
      state.data.records = found;
      state.errors.records = undefined;
      renderRecords();
    })
    .catch((error) => {
      if (error instanceof Unauthorized) return showSignIn(true);
      state.errors.records = error;
      renderRecords();
    });
}

function renderRecords() {
  const panel = $("#records");
  if (!state.records) {
    panel.hidden = true;
    panel.replaceChildren();
    return;
  }
  panel.hidden = false;
  const heading = h(
    "div",
    { class: "records-head" },
    h("h3", {}, t("records_of", { label: state.records.label, period: state.records.period })),
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick: () => {
          state.records = null;
          renderRecords();
        },
      },
      t("close"),
    ),
  );
  const found = state.data.records?.path === state.records.path ? state.data.records.body : null;
  if (state.errors.records) {
    panel.replaceChildren(
      heading,
      h("p", { class: "empty" }, t("error", { msg: state.errors.records.message })),
    );
    return;
  }
  if (!found) {
    panel.replaceChildren(heading, h("p", { class: "empty" }, t("loading")));
    return;
  }
  if (!found.records.length) {
    panel.replaceChildren(heading, h("p", { class: "empty" }, t("no_records")));
    return;
  }
  panel.replaceChildren(
    heading,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "compact records-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["record", "customer", "owner", "at", "counts"].map((k) => h("th", {}, t(k))),
          ),
        ),
        h(
          "tbody",
          {},
          found.records.map((r) =>
            h(
              "tr",
              { "data-record-kind": r.record_kind, "data-record-id": r.record_id },
              h(
                "td",
                {},
                h("small", {}, known("rk_", r.record_kind)),
                r.url ? h("a", { href: r.url, rel: "noopener" }, r.record_id) : r.record_id,
              ),
              h("td", {}, r.customer_id ?? "—"),
              h("td", {}, nodeName(r.rep_id)),
              h("td", {}, dateTime(r.at)),
              h("td", { class: "num" }, `${grouped(r.numerator)} / ${grouped(r.denominator)}`),
            ),
          ),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- wiring

function init() {
  setLanguage(localStorage.getItem(LANGUAGE_KEY) || "zh");
  translatePage();
  document.title = `${t("app_title")} · ${t("app_subtitle")}`;
  $("#lang").textContent = t("language_button");
  $("#lang").addEventListener("click", toggleLanguage);
  $("#sign-in-form").addEventListener("submit", onSignIn);
  $("#sign-out").addEventListener("click", onSignOut);
  $("#unit").addEventListener("change", (e) => setUnit(e.target.value));
  $("#period-kind").addEventListener("change", (e) => setKind(e.target.value));
  $("#period").addEventListener("change", (e) => setPeriod(e.target.value));
  for (const id of ["#cause-measure", "#cause-dimension", "#cause-before", "#cause-after"]) {
    $(id).addEventListener("change", onCauseChange);
  }
  if (tokens.take()) start();
  else showSignIn(false);
}

init();
