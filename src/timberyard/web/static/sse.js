// Server-Sent Events over fetch(), so the key travels in the Authorization
// header rather than in the URL. Reconnects with Last-Event-ID, like EventSource.

/** Feed text chunks; calls onEvent({id, event, data}) for each complete event. */
export class SSEParser {
  constructor(onEvent, onRetry = () => {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.data = [];
    this.event = "";
    this.id = null;
  }

  push(chunk) {
    const text = this.buffer + chunk;
    const newline = /\r\n|\r|\n/g;
    let start = 0;
    for (let match; (match = newline.exec(text)); ) {
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (match[0] === "\r" && match.index + 1 === text.length) break;
      this.line(text.slice(start, match.index));
      start = match.index + match[0].length;
    }
    this.buffer = text.slice(start);
  }

  line(text) {
    if (text === "") {
      if (this.data.length) {
        this.onEvent({ id: this.id, event: this.event || "message", data: this.data.join("\n") });
      }
      this.reset();
      return;
    }
    if (text.startsWith(":")) return; // a comment, such as ": keep-alive"
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}

/** A failure that reconnecting will not cure (404, 401, 400...). */
export class StreamError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/**
 * An event stream that stays open until stop(): reconnects after network
 * failures and server restarts, resuming from the last event id it saw.
 * Callbacks: onEvent(event), onState("connecting"|"open"|"retrying"|"stopped", detail).
 */
export class EventStream {
  constructor(url, { headers = {}, onEvent, onState = () => {}, minDelay = 1000, maxDelay = 15000 }) {
    Object.assign(this, { url, headers, onEvent, onState, minDelay, maxDelay });
    this.lastEventId = null;
    this.delay = minDelay;
    this.controller = null;
    this.stopped = false;
    this.resumeNow = false;
  }

  start() {
    this.stopped = false;
    this.loop();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
    this.onState("stopped");
  }

  async loop() {
    while (!this.stopped) {
      try {
        this.resumeNow = false;
        await this.connect();
        if (this.stopped) return;
        // The server ended the stream on purpose (a `reconnect` event): resume at once.
        if (this.resumeNow) continue;
        this.onState("retrying", "the server closed the stream");
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof StreamError) {
          this.stopped = true;
          this.onState("stopped", err);
          return;
        }
        this.onState("retrying", err && err.message ? err.message : String(err));
      }
      await new Promise((resolve) => setTimeout(resolve, this.delay));
      this.delay = Math.min(this.delay * 2, this.maxDelay);
    }
  }

  async connect() {
    this.controller = new AbortController();
    this.onState("connecting");
    const headers = { Accept: "text/event-stream", ...this.headers };
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    const response = await fetch(this.url, { headers, signal: this.controller.signal, cache: "no-store" });
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      // Overload and restarts pass; anything else needs the person to act.
      if ([429, 502, 503, 504].includes(response.status)) throw new Error(`HTTP ${response.status}`);
      throw new StreamError(response.status, body);
    }
    this.onState("open");
    const parser = new SSEParser(
      (event) => {
        if (event.id !== null) this.lastEventId = event.id;
        if (event.event === "reconnect") this.resumeNow = true;
        this.delay = this.minDelay;
        this.onEvent(event);
      },
      (retry) => {
        this.minDelay = retry;
        this.delay = retry;
      },
    );
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  }
}
