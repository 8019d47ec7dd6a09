// Keeping screens current without asking the servers every second.
//
// Countdowns: every element with ``data-due`` (an ISO time) is redrawn once a second from
// that time and the server's clock (format.serverNow); no request is made for it.
// Lists: refreshed when the metrics service announces a change on GET /changes (it follows
// the events of all three tables), and every REFRESH_MS in any case, as a safety net while
// the stream is down; the stream is read by common-live.js, as on the metrics dashboard.

import { api, authHeaders } from "./api.js";
import { LiveUpdates } from "./common-live.js";
import { clockText, serverNow } from "./format.js";
import { t } from "./i18n.js";

const REFRESH_MS = 30000;
const DEBOUNCE_MS = 400;

// ---------------------------------------------------------------- countdowns

/** Redraw one countdown element: "剩余 1:59:58" until its due time, "已超时 0:00:12" after. */
export function drawCountdown(el) {
  const due = Date.parse(el.dataset.due);
  if (Number.isNaN(due)) return;
  const left = Math.floor((due - serverNow()) / 1000);
  const overdue = left < 0;
  const text = overdue
    ? t("overdue_by", { d: clockText(-left) })
    : t("time_left", { d: clockText(left) });
  if (el.textContent !== text) el.textContent = text;
  el.classList.toggle("overdue", overdue);
  el.closest("[data-sla-row]")?.classList.toggle("overdue", overdue);
}

/** A countdown to ``due``. (At risk or not is the SLA board's call, made on the server.) */
export function countdown(due) {
  const el = document.createElement("span");
  el.className = "countdown";
  el.dataset.due = due;
  el.setAttribute("role", "timer");
  drawCountdown(el);
  return el;
}

let ticker = null;

export function startTicker() {
  if (ticker) return;
  ticker = setInterval(() => {
    for (const el of document.querySelectorAll("[data-due]")) drawCountdown(el);
  }, 1000);
}

// ---------------------------------------------------------------- change stream

/**
 * Calls ``refresh`` (debounced) when something changed, and every REFRESH_MS; ``onState``
 * hears "connecting", "stream" or "polling"; ``onUnauthorized`` a 401 on the stream.
 */
export function liveUpdates({ refresh, onState, onUnauthorized }) {
  return new LiveUpdates({
    url: api("metrics", "/changes"),
    headers: authHeaders,
    refresh,
    onState,
    onUnauthorized,
    debounceMs: DEBOUNCE_MS,
    pollMs: REFRESH_MS,
    pollWhileStreaming: true,
  });
}
