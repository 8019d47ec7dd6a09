// The console's shell: sign-in state, the role-aware navigation, the router (history API)
// and the language switch. Every screen is a function rendering into <main id="view">;
// the paths are the ones chat messages link to (/customers/<id>, /tasks/<id>,
// /tickets/<id>) plus the lists.

import { TOKEN_KEY, Unauthorized, forgetToken, get, takeToken, token } from "./api.js";
import { h, restoreForms, snapshotForms, toast } from "./dom.js";
import { configureTime } from "./format.js";
import { language, roleLabel, setLanguage, setNamer, t } from "./i18n.js";
import { liveUpdates, startTicker } from "./live.js";
import * as board from "./board.js";
import * as manager from "./manager.js";
import * as rep from "./rep.js";
import * as signin from "./signin.js";
import * as tickets from "./tickets.js";
import {
  clearSession,
  hasRole,
  isLogistics,
  isRep,
  isSales,
  isSupervisor,
  isTech,
  mayDecideConcessions,
  session,
  setDirectory,
} from "./session.js";

const LANGUAGE_KEY = "salesops.console.language";

const ROUTES = [
  [/^\/$/, home],
  [/^\/signin$/, signin.screen, { public: true }],
  [/^\/customers$/, rep.customerList],
  [/^\/customers\/([^/]+)$/, rep.customerDetail],
  [/^\/tasks$/, rep.taskList],
  [/^\/tasks\/([^/]+)$/, rep.taskDetail],
  [/^\/tickets$/, tickets.ticketList],
  [/^\/tickets\/new$/, tickets.newTicket],
  [/^\/tickets\/([^/]+)$/, tickets.ticketDetail],
  [/^\/approvals$/, manager.approvals],
  [/^\/negotiations$/, manager.negotiations],
  [/^\/reports$/, manager.reportTodo],
  [/^\/targets$/, manager.targets],
  [/^\/board$/, board.slaBoard],
  [/^\/dashboard$/, board.dashboard],
];

const shell = {
  view: null,
  leaving: [],
  refresh: null,
  live: null,
  rendering: 0,
};

const $ = (selector) => document.querySelector(selector);

// ---------------------------------------------------------------- navigation

export function navigate(path, { replace = false } = {}) {
  if (replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  return render();
}

function navItems() {
  const items = [];
  if (isSales()) {
    items.push(["/customers", isRep() ? "nav_my_customers" : "nav_team_customers"]);
    items.push(["/tasks", isRep() ? "nav_my_tasks" : "nav_team_tasks"]);
  }
  if (isSales() || isTech() || isLogistics()) {
    items.push(["/tickets", isSales() ? "nav_tickets" : "nav_queue"]);
  }
  if (mayDecideConcessions()) items.push(["/approvals", "nav_approvals"]);
  if (isSales() && isSupervisor()) items.push(["/reports", "nav_reports"]);
  if (hasRole("sales_manager")) items.push(["/negotiations", "nav_negotiations"]);
  if (isSales() && isSupervisor()) items.push(["/targets", "nav_targets"]);
  items.push(["/board", "nav_board"], ["/dashboard", "nav_dashboard"]);
  return items;
}

/** Where a person starts: the screen of their daily work. */
function homePath() {
  if (mayDecideConcessions()) return "/approvals";
  if (isSales()) return "/customers";
  if (isTech() || isLogistics()) return "/tickets";
  return "/dashboard";
}

async function home() {
  await navigate(homePath(), { replace: true });
}

function drawShell() {
  const signedIn = Boolean(session.me);
  $("#lang").textContent = t("language_button");
  $("#brand-title").textContent = t("app_title");
  $("#sign-out").textContent = t("sign_out");
  $("#sign-out").hidden = !signedIn;
  const who = $("#who");
  who.hidden = !signedIn;
  if (signedIn) {
    who.replaceChildren(
      h("strong", {}, session.me.name),
      h("small", {}, session.me.roles.map(roleLabel).join(" · ")),
    );
  }
  const nav = $("#nav");
  nav.hidden = !signedIn;
  nav.setAttribute("aria-label", t("nav_label"));
  const here = window.location.pathname;
  nav.replaceChildren(
    ...(signedIn ? navItems() : []).map(([path, key]) =>
      h(
        "a",
        {
          href: path,
          "data-link": "",
          class: "nav-item",
          "aria-current": here === path || here.startsWith(`${path}/`) ? "page" : null,
        },
        t(key),
      ),
    ),
  );
}

function leave() {
  for (const fn of shell.leaving.splice(0)) {
    try {
      fn();
    } catch {
      // a screen's clean-up failing must not keep the next screen from showing
    }
  }
  shell.refresh = null;
}

/** Render the screen of the current address. */
async function render() {
  const seq = ++shell.rendering;
  const path = window.location.pathname.replace(/\/+$/, "") || "/";
  const found = ROUTES.map(([pattern, screen, options]) => [
    pattern.exec(path),
    screen,
    options,
  ]).find(([match]) => match);
  leave();
  if (found && !found[2]?.public && !session.me) {
    const ok = await ensureSignedIn();
    if (!ok || seq !== shell.rendering) return;
  }
  drawShell();
  const view = shell.view;
  view.replaceChildren();
  view.removeAttribute("data-ready");
  if (!found) {
    document.title = `${t("not_found")} · ${t("app_title")}`;
    view.append(h("section", { class: "card" }, h("h1", {}, t("not_found")), h("p", {}, path)));
    return;
  }
  const [match, screen] = found;
  const ctx = {
    params: match.slice(1).map(decodeURIComponent),
    query: new URLSearchParams(window.location.search),
    view,
    navigate,
    title(text) {
      document.title = `${text} · ${t("app_title")}`;
    },
    onLeave(fn) {
      shell.leaving.push(fn);
    },
    setRefresh(fn) {
      shell.refresh = fn;
    },
    expired,
    signedIn,
    current: () => seq === shell.rendering,
  };
  try {
    await screen(ctx);
  } catch (error) {
    if (error instanceof Unauthorized) return expired();
    throw error;
  }
  // Tests (and screen readers' users) can tell the screen has its data.
  if (seq === shell.rendering) view.dataset.ready = window.location.pathname;
}

// ---------------------------------------------------------------- signing in

/** Load the person and directory for the kept token; false (and the sign-in screen) if none. */
async function ensureSignedIn() {
  if (!token()) {
    await toSignIn(false);
    return false;
  }
  try {
    const [me, directory] = await Promise.all([get("/auth/me"), get("/auth/directory")]);
    session.me = me;
    setDirectory(directory);
    setNamer(
      (id) =>
        session.teams.find((team) => team.id === id)?.name ??
        session.people.get(id)?.name ??
        session.units.get(id)?.name ??
        id,
    );
    startLive();
    return true;
  } catch (error) {
    if (error instanceof Unauthorized) {
      forgetToken();
      await toSignIn(true);
      return false;
    }
    throw error;
  }
}

async function toSignIn(wasExpired) {
  const here = window.location.pathname + window.location.search;
  const next = here.startsWith("/signin") ? "" : here;
  const params = new URLSearchParams();
  if (next && next !== "/") params.set("next", next);
  if (wasExpired) params.set("expired", "1");
  const text = params.toString();
  await navigate(`/signin${text ? `?${text}` : ""}`, { replace: true });
}

/** The token stopped working (expired, revoked): sign in again and come back here. */
export async function expired() {
  stopLive();
  forgetToken();
  clearSession();
  await toSignIn(true);
}

export async function signedIn(next) {
  clearSession();
  const ok = await ensureSignedIn();
  if (ok)
    await navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", {
      replace: true,
    });
}

function signOut() {
  stopLive();
  forgetToken();
  clearSession();
  navigate("/signin");
}

/**
 * The sign-in ran out while a screen was open (a refresh or a submit got 401). The screen
 * stays, with whatever was typed; a banner offers signing in again in another tab, and
 * this tab carries on once the new token is there (the "storage" event).
 */
function lostSignIn() {
  if (!session.me) return;
  stopLive();
  const banner = $("#signed-out");
  const here = window.location.pathname + window.location.search;
  banner.replaceChildren(
    t("sign_in_expired_here"),
    " ",
    h(
      "a",
      { href: `/signin?next=${encodeURIComponent(here)}`, target: "_blank" },
      t("sign_in_again"),
    ),
  );
  banner.hidden = false;
}

window.addEventListener("storage", async (event) => {
  if (event.key !== TOKEN_KEY || !event.newValue || $("#signed-out").hidden) return;
  $("#signed-out").hidden = true;
  try {
    session.me = await get("/auth/me");
  } catch {
    return lostSignIn();
  }
  drawShell();
  startLive();
  shell.refresh?.();
});

window.addEventListener("salesops:unauthorized", () => lostSignIn());

function startLive() {
  if (shell.live) return;
  shell.live = liveUpdates({
    refresh: () => shell.refresh?.(),
    onState: (state) => {
      const el = $("#live");
      el.dataset.live = state;
      el.textContent = t(`live_${state}`);
    },
    onUnauthorized: () => lostSignIn(),
  });
  shell.live.start();
}

function stopLive() {
  shell.live?.stop();
  shell.live = null;
  const el = $("#live");
  el.textContent = "";
  el.dataset.live = "";
}

// ---------------------------------------------------------------- start

async function switchLanguage() {
  // The screen is drawn again in the other language; what was typed (files too) stays.
  const saved = snapshotForms();
  setLanguage(language() === "zh" ? "en" : "zh");
  localStorage.setItem(LANGUAGE_KEY, language());
  const live = $("#live");
  if (live.dataset.live) live.textContent = t(`live_${live.dataset.live}`);
  await render();
  restoreForms(saved);
}

function interceptLinks(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = event.target.closest("a[href]");
  if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
  const url = new URL(anchor.href, window.location.href);
  if (
    url.origin !== window.location.origin ||
    url.pathname.startsWith("/api/") ||
    url.pathname.startsWith("/auth/")
  )
    return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

async function boot() {
  setLanguage(localStorage.getItem(LANGUAGE_KEY) || "zh");
  shell.view = $("#view");
  $("#lang").addEventListener("click", switchLanguage);
  $("#sign-out").addEventListener("click", signOut);
  document.addEventListener("click", interceptLinks);
  window.addEventListener("popstate", () => render());
  try {
    session.config = await get("/auth/config");
    configureTime(session.config);
  } catch {
    shell.view.replaceChildren(
      h("p", { class: "banner", role: "alert" }, t("console_unreachable")),
    );
    return;
  }
  // The server's clock is read again now and then, so countdowns stay true on a phone
  // whose clock is off or that slept for a while.
  setInterval(async () => {
    try {
      configureTime(await get("/auth/config"));
    } catch {
      // offline for a moment: keep the last reading
    }
  }, 60000);
  takeToken();
  startTicker();
  await render();
  document.body.dataset.ready = "true";
}

window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof Unauthorized) {
    event.preventDefault();
    lostSignIn();
    return;
  }
  toast(t("load_failed", { msg: String(event.reason?.message || event.reason) }));
});

boot();
