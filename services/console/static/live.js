// Keeping screens current without asking the servers every second.
//
// Countdowns: every element with ``data-due`` (an ISO time) is redrawn once a second from
// that time and the server's clock (format.serverNow); no request is made for it.
// Lists: refreshed when the metrics service announces a change on GET /changes (it follows
// the events of all three tables), and every REFRESH_MS in any case, as a safety net while
// the stream is down. EventSource cannot send an Authorization header, so the
// server-sent events are read with fetch() and parsed here.

import { Unauthorized, api, authHeaders } from "./api.js";
import { clockText, serverNow } from "./format.js";
import { t } from "./i18n.js";

const REFRESH_MS = 30000;
const DEBOUNCE_MS = 400;
const MAX_RETRY_MS = 30000;

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

/** Splits a text/event-stream into events ({event, data}); ``retry`` fields go to onRetry. */
export class EventStreamParser {
  constructor(onEvent, onRetry = () => {}) {
    this.buffer = "";
    this.onEvent = onEvent;
    this.onRetry = onRetry;
  }

  push(text) {
    this.buffer += text;
    const blocks = this.buffer.split(/\r\n\r\n|\n\n|\r\r/);
    this.buffer = blocks.pop();
    for (const block of blocks) this.block(block);
  }

  block(block) {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "event") event = value;
      else if (name === "data") data.push(value);
      else if (name === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
    }
    if (data.length || event !== "message") this.onEvent({ event, data: data.join("\n") });
  }
}

/**
 * Calls ``refresh`` (debounced) when something changed, and every REFRESH_MS; ``onState``
 * hears "connecting", "stream" or "polling"; ``onUnauthorized`` a 401 on the stream.
 */
export class LiveUpdates {
  constructor({ refresh, onState, onUnauthorized }) {
    this.refresh = refresh;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.retryMs = 3000;
    this.failures = 0;
    this.timers = {};
    this.controller = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.timers.poll = setInterval(() => this.refresh(), REFRESH_MS);
    this.connect(false);
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
    clearInterval(this.timers.poll);
    clearTimeout(this.timers.retry);
    clearTimeout(this.timers.debounce);
    this.timers = {};
  }

  changed() {
    clearTimeout(this.timers.debounce);
    this.timers.debounce = setTimeout(() => this.refresh(), DEBOUNCE_MS);
  }

  async connect(afterFailure) {
    if (this.stopped) return;
    this.onState(afterFailure ? "polling" : "connecting");
    this.controller = new AbortController();
    try {
      const response = await fetch(api("metrics", "/changes"), {
        headers: { ...authHeaders(), Accept: "text/event-stream" },
        signal: this.controller.signal,
        cache: "no-store",
      });
      if (response.status === 401) throw new Unauthorized();
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      this.failures = 0;
      this.onState("stream");
      // Whatever changed while the stream was down was not announced.
      if (afterFailure) this.changed();
      await this.read(response.body);
      throw new Error("stream ended");
    } catch (error) {
      if (this.stopped) return;
      if (error instanceof Unauthorized) {
        this.stop();
        this.onUnauthorized();
        return;
      }
      this.onState("polling");
      this.failures += 1;
      const wait = Math.min(this.retryMs * 2 ** Math.min(this.failures - 1, 4), MAX_RETRY_MS);
      this.timers.retry = setTimeout(() => this.connect(true), wait);
    }
  }

  async read(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new EventStreamParser(
      ({ event }) => {
        if (event === "changed") this.changed();
      },
      (ms) => {
        this.retryMs = ms;
      },
    );
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(decoder.decode(value, { stream: true }));
    }
  }
}
