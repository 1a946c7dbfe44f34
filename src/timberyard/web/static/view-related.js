// Session view (every entry of a sessionId, frontend and backend, in time order)
// and flow view (every entry of a flowId by stepIndex).

import { ApiError, api, describeError } from "./api.js";
import { h } from "./dom.js";
import { entryRow } from "./entries.js";
import { clause } from "./querytext.js";
import { formatTime, offset } from "./timerange.js";
import { href, navigate } from "./urlstate.js";

const LANES = 8;

export function createRelatedView(kind, { onAuthError }) {
  const isSession = kind === "session";
  const field = isSession ? "sessionId" : "flowId";
  let controller = null;
  const title = h("h1", {});
  const searchLink = h("a", { class: "chip" }, "Search these");
  const summary = h("p", { class: "related-summary", role: "status" });
  const lanes = h("ul", { class: "lanes", "aria-label": "Services" });
  const list = h("ol", { class: "entries related-list", "aria-label": isSession ? "Entries of the session in time order" : "Entries of the flow by step" });
  const el = h("div", { class: `view view-related view-${kind}` },
    h("div", { class: "toolbar" },
      h("a", { href: href({ view: "search" }), class: "back" }, "← Search"), title,
      h("span", { class: "spacer" }), searchLink),
    h("section", { class: "panel related-panel" }, summary, lanes, list));

  const onFilter = (name, value, negate) => navigate({ view: "search", id: "", q: clause(name, value, negate), live: false });

  function render(id, logs) {
    const services = [];
    for (const entry of logs) {
      const name = entry.service || "(no service)";
      if (!services.includes(name)) services.push(name);
    }
    const laneOf = (entry) => services.indexOf(entry.service || "(no service)") % LANES;
    const start = logs.length ? logs[0].timestamp : 0;
    const first = logs.length ? Math.min(...logs.map((e) => e.timestamp)) : 0;
    const last = logs.length ? Math.max(...logs.map((e) => e.timestamp)) : 0;
    const lead = isSession
      ? (entry) => offset(entry.timestamp - start)
      : (entry) => (entry.stepIndex === null || entry.stepIndex === undefined ? "step –" : `step ${entry.stepIndex}`);
    lanes.replaceChildren(...services.map((name, i) =>
      h("li", { class: `lane lane-${i % LANES}` }, h("span", { class: "lane-swatch", "aria-hidden": "true" }), name)));
    list.replaceChildren(...logs.map((entry) => {
      const row = entryRow(entry, { onFilter, lead });
      row.classList.add("lane-row", `lane-${laneOf(entry)}`);
      return row;
    }));
    summary.textContent = logs.length
      ? `${logs.length} ${logs.length === 1 ? "entry" : "entries"} from ${services.length} ${services.length === 1 ? "service" : "services"} · ${formatTime(first)} → ${formatTime(last)} (${offset(last - first).slice(1)})`
      : `No entries with ${field} ${id}.`;
  }

  async function load(id) {
    if (controller) controller.abort();
    controller = new AbortController();
    title.replaceChildren(isSession ? "Session " : "Flow ", h("code", {}, id));
    document.title = `${isSession ? "Session" : "Flow"} ${id} · Timberyard`;
    searchLink.href = href({ view: "search", q: clause(field, id), from: "-7d", to: "now" });
    summary.textContent = "Loading…";
    list.replaceChildren();
    lanes.replaceChildren();
    try {
      const doc = await (isSession ? api.session(id, { signal: controller.signal }) : api.flow(id, { signal: controller.signal }));
      render(id, doc.logs);
    } catch (err) {
      if (controller.signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) onAuthError(err);
      summary.textContent = describeError(err);
    }
  }

  return {
    el,
    update(state) {
      load(state.id);
    },
    unmount() {
      if (controller) controller.abort();
    },
  };
}
