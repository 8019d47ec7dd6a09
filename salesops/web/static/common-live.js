// Live updates from the metrics service's change stream (GET /changes), shared by the
// dashboard and the console. EventSource cannot send an Authorization header, so the
// server-sent events are read with fetch() and parsed here. While the stream is down the
// page polls and keeps trying the stream again, backing off up to MAX_RETRY_MS.

import { Unauthorized } from "./common-api.js";

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
 * Calls ``refresh`` (debounced by ``debounceMs``) whenever the stream at ``url`` says
 * "changed", and every ``pollMs`` while it is down; with ``pollWhileStreaming`` every
 * ``pollMs`` in any case, as a safety net. ``headers()`` gives the request's headers (the
 * bearer token); ``onState`` hears "connecting", "stream" or "polling"; ``onUnauthorized``
 * a 401 on the stream, after which nothing more is tried.
 */
export class LiveUpdates {
  constructor({
    url,
    headers,
    refresh,
    onState,
    onUnauthorized,
    debounceMs = 300,
    pollMs = 30000,
    pollWhileStreaming = false,
  }) {
    this.url = url;
    this.headers = headers;
    this.refresh = refresh;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.debounceMs = debounceMs;
    this.pollMs = pollMs;
    this.pollWhileStreaming = pollWhileStreaming;
    this.retryMs = 3000; // until the server's ``retry:`` says otherwise
    this.failures = 0;
    this.pollTimer = null;
    this.retryTimer = null;
    this.debounceTimer = null;
    this.controller = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    if (this.pollWhileStreaming) this.poll();
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

  poll() {
    if (this.pollTimer === null) this.pollTimer = setInterval(() => this.refresh(), this.pollMs);
  }

  changed() {
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => this.refresh(), this.debounceMs);
  }

  async connect(afterFailure) {
    if (this.stopped) return;
    this.onState(afterFailure ? "polling" : "connecting");
    this.controller = new AbortController();
    try {
      const response = await fetch(this.url, {
        headers: { ...this.headers(), Accept: "text/event-stream" },
        signal: this.controller.signal,
        cache: "no-store",
      });
      if (response.status === 401) throw new Unauthorized();
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      this.failures = 0;
      if (!this.pollWhileStreaming) {
        clearInterval(this.pollTimer);
        this.pollTimer = null;
      }
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
    this.poll();
    this.failures += 1;
    const wait = Math.min(this.retryMs * 2 ** Math.min(this.failures - 1, 4), MAX_RETRY_MS);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(true), wait);
  }
}
