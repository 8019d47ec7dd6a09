// Live updates from GET /changes. EventSource cannot send an Authorization header, so the
// server-sent events are read with fetch() and parsed here. While the stream is down the
// page polls (every 30 s) and keeps trying the stream again.

import { Unauthorized, authHeaders } from "./api.js";

const POLL_MS = 30000;
const DEBOUNCE_MS = 300;
const MAX_RETRY_MS = 30000;

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
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
    }
    if (data.length || event !== "message") this.onEvent({ event, data: data.join("\n") });
  }
}

/**
 * Calls ``refresh`` (debounced) whenever the figures changed; ``onState`` hears
 * "connecting", "stream" or "polling"; ``onUnauthorized`` a 401 on the stream.
 */
export class LiveUpdates {
  constructor({ refresh, onState, onUnauthorized }) {
    this.refresh = refresh;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.retryMs = 3000;
    this.failures = 0;
    this.pollTimer = null;
    this.retryTimer = null;
    this.debounceTimer = null;
    this.controller = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect(false);
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.debounceTimer);
    this.pollTimer = this.retryTimer = this.debounceTimer = null;
  }

  changed() {
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => this.refresh(), DEBOUNCE_MS);
  }

  async connect(afterFailure) {
    if (this.stopped) return;
    this.onState(afterFailure ? "polling" : "connecting");
    this.controller = new AbortController();
    try {
      const response = await fetch("/changes", {
        headers: { ...authHeaders(), Accept: "text/event-stream" },
        signal: this.controller.signal,
        cache: "no-store",
      });
      if (response.status === 401) throw new Unauthorized();
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      this.failures = 0;
      clearInterval(this.pollTimer);
      this.pollTimer = null;
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
      this.fallBack();
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

  fallBack() {
    this.onState("polling");
    if (this.pollTimer === null) this.pollTimer = setInterval(() => this.refresh(), POLL_MS);
    this.failures += 1;
    const wait = Math.min(this.retryMs * 2 ** Math.min(this.failures - 1, 4), MAX_RETRY_MS);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(true), wait);
  }
}
