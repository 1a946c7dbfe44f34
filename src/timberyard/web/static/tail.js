// Live tail: a stream of matching entries, newest on top. However fast they
// arrive, the page stays responsive: entries are kept in memory (the newest
// MAX_ROWS), the DOM is updated at most every FLUSH_MS inside an animation
// frame, and only the rows in view exist (a virtual list of fixed-height rows).

import { authHeaders, projectParams, withParams } from "./api.js";
import { h } from "./dom.js";
import { entryDetail } from "./entries.js";
import { EventStream } from "./sse.js";
import { formatTime } from "./timerange.js";
import { href } from "./urlstate.js";

export const MAX_ROWS = 1000;
const FLUSH_MS = 100;
const ROW_HEIGHT = 30;
const OVERSCAN = 6;
const LEVELS = new Set(["trace", "debug", "info", "success", "warn", "error", "fatal"]);

/** One reusable row of the virtual list; fill(entry, index) shows an entry in it. */
function pooledRow(onSelect) {
  const time = h("time", { class: "entry-time mono" });
  const level = h("span", { class: "level" });
  const service = h("span", { class: "entry-service" });
  const message = h("span", { class: "entry-message" });
  const toggle = h("button", { type: "button", class: "entry-toggle" }, time, level, service, message);
  const session = h("a", { class: "chip chip-session" }, "Session");
  const flow = h("a", { class: "chip chip-flow" }, "Flow");
  const el = h("li", { class: "entry" }, h("div", { class: "entry-line" }, toggle, h("span", { class: "entry-links" }, session, flow)));
  let current = null;
  toggle.addEventListener("click", () => current && onSelect(current));
  return {
    el,
    fill(entry, index, selected) {
      if (entry === current) {
        el.classList.toggle("selected", selected);
        return;
      }
      current = entry;
      const lvl = LEVELS.has(entry.level) ? entry.level : "info";
      el.dataset.level = lvl;
      el.dataset.id = entry.id;
      el.setAttribute("aria-posinset", String(index + 1));
      el.classList.toggle("selected", selected);
      time.textContent = formatTime(entry.timestamp);
      time.dateTime = entry.time || "";
      level.className = `level level-${lvl}`;
      level.textContent = entry.level;
      service.textContent = entry.service || "—";
      const text = String(entry.message ?? "");
      const cut = text.indexOf("\n");
      message.textContent = cut < 0 ? text : `${text.slice(0, cut)} …`;
      session.hidden = !entry.sessionId;
      if (entry.sessionId) session.href = href({ view: "session", id: entry.sessionId });
      flow.hidden = !entry.flowId;
      if (entry.flowId) flow.href = href({ view: "flow", id: entry.flowId });
    },
  };
}

/** Returns {el, start(query), stop(), isRunning()}. */
export function createTail({ onFilter, onQueryError }) {
  const status = h("span", { class: "tail-status", role: "status" }, "Stopped");
  const stats = h("span", { class: "tail-stats muted", "aria-live": "off" });
  const pause = h("button", { type: "button", class: "small", "aria-pressed": "false" }, "Pause");
  const clearButton = h("button", { type: "button", class: "small" }, "Clear");
  const rowsEl = h("ol", { class: "entries tail-rows", "aria-label": "Live entries, newest first" });
  const spacer = h("div", { class: "tail-spacer" }, rowsEl);
  const viewport = h("div", { class: "tail-viewport", tabindex: "0", role: "region", "aria-label": "Live entries" }, spacer);
  const empty = h("p", { class: "muted tail-empty" }, "Waiting for new entries that match the query…");
  const detail = h("div", { class: "tail-detail entry-detail", hidden: true, "aria-label": "Selected entry" });
  const el = h("section", { class: "tail panel", "aria-label": "Live tail", hidden: true },
    h("div", { class: "tail-head" }, status, stats, h("span", { class: "spacer" }), pause, clearButton),
    empty, viewport, detail);

  let stream = null;
  let rows = []; // newest first, at most MAX_ROWS
  let pending = []; // oldest first, not yet shown
  const pool = [];
  let selected = null;
  let frame = 0;
  let timer = 0;
  let lastFlush = 0;
  let paused = false;
  let received = 0;
  let dropped = 0;
  let rateCount = 0;
  let rate = 0;
  let ticker = 0;

  function setStatus(text, kind) {
    status.textContent = text;
    status.dataset.state = kind;
  }

  function updateStats() {
    const parts = [`${received.toLocaleString()} received`, `${rate.toLocaleString()}/s`];
    if (dropped) parts.push(`${dropped.toLocaleString()} older not kept (newest ${MAX_ROWS.toLocaleString()} shown)`);
    if (paused && pending.length) parts.push(`${pending.length.toLocaleString()} waiting`);
    stats.textContent = parts.join(" · ");
  }

  function select(entry) {
    selected = selected === entry ? null : entry;
    detail.hidden = !selected;
    if (selected) {
      detail.replaceChildren(
        h("div", { class: "tail-detail-head" }, h("strong", {}, "Selected entry"), h("span", { class: "spacer" }),
          h("button", { type: "button", class: "small", onClick: () => select(selected) }, "Close")),
        ...entryDetail(selected, onFilter).flat().filter(Boolean));
    }
    render();
  }

  /** Show the rows in view (plus a few) from the pool of row elements. */
  function render() {
    spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const count = Math.min(rows.length - first, Math.ceil(viewport.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN);
    while (pool.length < count) {
      const row = pooledRow(select);
      pool.push(row);
      rowsEl.append(row.el);
    }
    rowsEl.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    rowsEl.setAttribute("aria-setsize", String(rows.length));
    pool.forEach((row, i) => {
      row.el.hidden = i >= count;
      if (i < count) row.fill(rows[first + i], first + i, rows[first + i] === selected);
    });
    empty.hidden = rows.length > 0;
  }

  function schedule() {
    if (paused || frame || timer) return;
    // At most one DOM update per FLUSH_MS, always inside an animation frame.
    const wait = Math.max(0, lastFlush + FLUSH_MS - performance.now());
    if (wait) timer = setTimeout(() => { timer = 0; frame = requestAnimationFrame(flush); }, wait);
    else frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    lastFlush = performance.now();
    if (!pending.length) return;
    const added = pending.reverse();
    pending = [];
    const all = added.concat(rows);
    if (all.length > MAX_ROWS) dropped += all.length - MAX_ROWS;
    rows = all.slice(0, MAX_ROWS);
    // Someone reading further down keeps their place as new rows arrive on top.
    if (viewport.scrollTop > 0) viewport.scrollTop += added.length * ROW_HEIGHT;
    render();
    updateStats();
  }

  function receive(event) {
    if (event.event !== "log" && event.event !== "message") return;
    let entry;
    try {
      entry = JSON.parse(event.data);
    } catch {
      return;
    }
    received++;
    rateCount++;
    pending.push(entry);
    // Keep at most what can be shown; trimming in halves keeps this O(1) per entry.
    if (pending.length >= MAX_ROWS * 2) {
      dropped += pending.length - MAX_ROWS;
      pending = pending.slice(-MAX_ROWS);
    }
    schedule();
  }

  function onState(state, detailInfo) {
    if (state === "connecting") setStatus("Connecting…", "connecting");
    else if (state === "open") setStatus(paused ? "Paused" : "Live", paused ? "paused" : "live");
    else if (state === "retrying") setStatus(`Reconnecting… (${detailInfo})`, "retrying");
    else if (state === "stopped" && detailInfo) {
      empty.hidden = true;
      if (detailInfo.status === 404) setStatus("Live tail is not available on this server.", "unavailable");
      else if (detailInfo.body && detailInfo.body.code === "QUERY_ERROR") {
        setStatus("Fix the query to start the live tail.", "error");
        onQueryError(detailInfo.body);
      } else setStatus(`Live tail stopped: ${detailInfo.message}`, "error");
    }
  }

  viewport.addEventListener("scroll", () => {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); schedule(); });
  });
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (stream && ["live", "paused"].includes(status.dataset.state)) {
      setStatus(paused ? "Paused" : "Live", paused ? "paused" : "live");
    }
    schedule();
    updateStats();
  });
  clearButton.addEventListener("click", () => {
    rows = [];
    pending = [];
    received = dropped = 0;
    if (selected) select(selected);
    render();
    updateStats();
  });

  function stop() {
    if (stream) stream.stop();
    stream = null;
    if (frame) cancelAnimationFrame(frame);
    clearTimeout(timer);
    frame = timer = 0;
    clearInterval(ticker);
    el.hidden = true;
  }

  return {
    el,
    isRunning: () => stream !== null,
    start(query) {
      stop();
      rows = [];
      pending = [];
      received = dropped = rateCount = rate = 0;
      selected = null;
      detail.hidden = true;
      el.hidden = false;
      viewport.scrollTop = 0;
      render();
      updateStats();
      ticker = setInterval(() => {
        rate = rateCount;
        rateCount = 0;
        updateStats();
      }, 1000);
      const url = withParams("/v1/tail", { q: query, ...projectParams() });
      stream = new EventStream(url, { headers: authHeaders(), onEvent: receive, onState }).start();
    },
    stop,
  };
}
