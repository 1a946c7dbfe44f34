// Entries per time bucket, stacked by level, as SVG; drag across it to zoom.

import { h, s } from "./dom.js";
import { LEVELS } from "./entries.js";
import { formatTime } from "./timerange.js";

const HEIGHT = 132;
const PAD = { top: 10, right: 10, bottom: 22, left: 44 };
const STACK = [...LEVELS].reverse(); // fatal at the bottom, where it is seen first
const TICK_STEPS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 10800, 21600, 43200, 86400, 172800, 604800]
  .map((seconds) => seconds * 1000);

function niceMax(value) {
  if (value <= 5) return Math.max(1, value);
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= value) * magnitude;
  return step;
}

function tickLabel(ms, step, span) {
  const full = formatTime(ms, { millis: false });
  if (step >= 86_400_000) return full.slice(5, 10);
  if (span > 86_400_000) return full.slice(5, 16);
  return step < 60_000 ? full.slice(11, 19) : full.slice(11, 16);
}

function timeTicks(from, to, width) {
  const span = to - from;
  const wanted = Math.max(2, Math.floor(width / 110));
  const step = TICK_STEPS.find((st) => span / st <= wanted) || span / wanted;
  const tz = new Date(from).getTimezoneOffset() * 60_000;
  const ticks = [];
  for (let t = Math.ceil((from - tz) / step) * step + tz; t <= to; t += step) ticks.push(t);
  return { ticks, step, span };
}

/** Returns {el, render(doc), setLoading(bool), setError(text)}. */
export function createHistogram({ onZoom, onZoomOut, onFilter }) {
  const readout = h("div", { class: "histogram-readout", "aria-live": "off" });
  const summary = h("div", { class: "histogram-summary" });
  const legend = h("div", { class: "histogram-legend" });
  const chart = h("div", { class: "histogram-chart-wrap" });
  const zoomOut = h("button", { type: "button", class: "small", onClick: () => onZoomOut() }, "Zoom out");
  const el = h("section", { class: "histogram panel", "aria-label": "Entries over time" },
    h("div", { class: "histogram-head" }, summary, legend, h("span", { class: "spacer" }), readout, zoomOut),
    chart,
  );
  let doc = null;
  let width = 0;

  function draw() {
    if (!doc) return;
    width = chart.clientWidth || 800;
    const plotW = Math.max(10, width - PAD.left - PAD.right);
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const { from, to, intervalMs } = doc;
    const span = Math.max(1, to - from);
    const x = (t) => PAD.left + ((t - from) / span) * plotW;
    const peak = niceMax(Math.max(0, ...doc.buckets.map((b) => b.total || 0)));
    const y = (n) => PAD.top + plotH - (n / peak) * plotH;

    const bars = s("g", { class: "bars" });
    for (const bucket of doc.buckets) {
      const x0 = Math.max(PAD.left, x(bucket.t));
      const x1 = Math.min(PAD.left + plotW, x(bucket.t + intervalMs));
      const barW = Math.max(1, x1 - x0 - (x1 - x0 > 4 ? 1 : 0));
      let base = 0;
      for (const level of STACK) {
        const n = (bucket.counts && bucket.counts[level]) || 0;
        if (!n) continue;
        bars.append(s("rect", {
          class: `bar bar-${level}`, x: x0.toFixed(1), width: barW.toFixed(1),
          y: y(base + n).toFixed(1), height: Math.max(0.5, y(base) - y(base + n)).toFixed(1),
        }));
        base += n;
      }
    }
    const axis = s("g", { class: "axis" });
    for (const n of [0, peak / 2, peak].filter(Number.isInteger)) {
      axis.append(
        s("line", { x1: PAD.left, x2: PAD.left + plotW, y1: y(n), y2: y(n), class: n ? "grid" : "baseline" }),
        s("text", { x: PAD.left - 6, y: y(n) + 4, "text-anchor": "end" }, n.toLocaleString()),
      );
    }
    const { ticks, step } = timeTicks(from, to, plotW);
    // Labels near either edge are aligned inwards so they are never cut off.
    const anchor = (px) => (px < PAD.left + 40 ? "start" : px > width - 50 ? "end" : "middle");
    for (const t of ticks) {
      axis.append(
        s("line", { x1: x(t), x2: x(t), y1: PAD.top + plotH, y2: PAD.top + plotH + 4, class: "tick" }),
        s("text", { x: x(t), y: HEIGHT - 5, "text-anchor": anchor(x(t)) }, tickLabel(t, step, span)),
      );
    }
    const selection = s("rect", { class: "selection", y: PAD.top, height: plotH, x: 0, width: 0, visibility: "hidden" });
    const overlay = s("rect", { class: "overlay", x: PAD.left, y: PAD.top, width: plotW, height: plotH });
    const total = doc.total ?? doc.buckets.reduce((sum, b) => sum + (b.total || 0), 0);
    const svg = s("svg", {
      class: "histogram-chart", width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: "img",
      "aria-label": `Histogram: ${total} entries from ${formatTime(from)} to ${formatTime(to)}; drag to zoom`,
      "data-from": from, "data-to": to,
    }, axis, bars, selection, overlay);
    chart.replaceChildren(svg);
    interact(svg, overlay, selection, { x, plotW, from, span, intervalMs });
  }

  function interact(svg, overlay, selection, { plotW, from, span, intervalMs }) {
    const toTime = (px) => from + ((Math.min(Math.max(px, PAD.left), PAD.left + plotW) - PAD.left) / plotW) * span;
    const localX = (event) => event.clientX - svg.getBoundingClientRect().left;
    let start = null;
    overlay.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      start = Math.min(Math.max(localX(event), PAD.left), PAD.left + plotW);
      overlay.setPointerCapture(event.pointerId);
      event.preventDefault();
    });
    overlay.addEventListener("pointermove", (event) => {
      const px = localX(event);
      showReadout(toTime(px));
      if (start === null) return;
      const end = Math.min(Math.max(px, PAD.left), PAD.left + plotW);
      selection.setAttribute("x", Math.min(start, end));
      selection.setAttribute("width", Math.abs(end - start));
      selection.setAttribute("visibility", "visible");
    });
    overlay.addEventListener("pointerup", (event) => {
      if (start === null) return;
      const end = localX(event);
      const [a, b] = [toTime(Math.min(start, end)), toTime(Math.max(start, end))];
      const dragged = Math.abs(end - start) > 3;
      start = null;
      selection.setAttribute("visibility", "hidden");
      if (dragged && b > a) {
        onZoom(a, b);
      } else {
        // A click zooms into the bucket under the pointer.
        const bucketStart = from + Math.floor((a - from) / intervalMs) * intervalMs;
        onZoom(bucketStart, bucketStart + intervalMs);
      }
    });
    overlay.addEventListener("pointercancel", () => {
      start = null;
      selection.setAttribute("visibility", "hidden");
    });
    overlay.addEventListener("pointerleave", () => { if (start === null) readout.textContent = ""; });
  }

  function showReadout(t) {
    if (!doc) return;
    const bucket = doc.buckets.find((b) => t >= b.t && t < b.t + doc.intervalMs);
    if (!bucket) {
      readout.textContent = "";
      return;
    }
    const parts = LEVELS.filter((l) => bucket.counts && bucket.counts[l]).map((l) => `${bucket.counts[l]} ${l}`);
    readout.textContent = `${formatTime(bucket.t, { millis: false })} · ${bucket.total} ${parts.length ? `(${parts.join(", ")})` : ""}`;
  }

  function renderLegend() {
    const totals = {};
    for (const b of doc.buckets) for (const [level, n] of Object.entries(b.counts || {})) totals[level] = (totals[level] || 0) + n;
    const total = doc.total ?? Object.values(totals).reduce((a, b) => a + b, 0);
    summary.textContent = `${total.toLocaleString()} ${total === 1 ? "entry" : "entries"} · ${doc.interval || `${doc.intervalMs / 1000}s`} buckets`;
    legend.replaceChildren(...LEVELS.filter((l) => totals[l]).map((level) =>
      h("button", {
        type: "button", class: `legend-item small`, title: `Filter: level:${level}`,
        onClick: () => onFilter("level", level, false),
      }, h("span", { class: `swatch bar-${level}`, "aria-hidden": "true" }), `${level} ${totals[level].toLocaleString()}`)));
  }

  new ResizeObserver(() => {
    if (doc && chart.clientWidth && chart.clientWidth !== width) draw();
  }).observe(chart);

  return {
    el,
    render(next) {
      doc = next;
      el.classList.remove("loading", "failed");
      renderLegend();
      draw();
    },
    setLoading(on) {
      el.classList.toggle("loading", on);
    },
    setError(text) {
      doc = null;
      el.classList.add("failed");
      el.classList.remove("loading");
      summary.textContent = text;
      legend.replaceChildren();
      chart.replaceChildren(h("div", { class: "histogram-empty" }, "No histogram"));
    },
  };
}
