// Error groups: one row per fingerprint with count, trend sparkline and last seen.

import { ApiError, api, describeError } from "./api.js";
import { h, s } from "./dom.js";
import { entryRow, levelBadge } from "./entries.js";
import { addClause, clause, quoteValue } from "./querytext.js";
import { createRangePicker } from "./rangepicker.js";
import { ago, apiRange, describe, formatTime } from "./timerange.js";
import { href, navigate } from "./urlstate.js";

/** A small line-and-area chart of counts per bucket. */
export function sparkline(values, label) {
  const width = 120;
  const height = 28;
  const n = values.length;
  const peak = Math.max(1, ...values);
  const x = (i) => (n <= 1 ? width / 2 : (i / (n - 1)) * (width - 2) + 1);
  const y = (v) => height - 2 - (v / peak) * (height - 4);
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return s("svg", { class: "sparkline", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    s("polygon", { class: "spark-area", points: `${x(0)},${height} ${points} ${x(n - 1)},${height}` }),
    s("polyline", { class: "spark-line", points }),
  );
}

/** A search that finds a group's entries (the API cannot search by fingerprint). */
function groupQuery(group) {
  let q = "";
  if (group.service) q = addClause(q, clause("service", group.service));
  if (group.errorName) q = addClause(q, clause("errorName", group.errorName));
  const words = (group.title || "").split(/\s+/).filter((w) => /^[A-Za-z][A-Za-z'-]{2,}$/.test(w)).slice(0, 5);
  for (const word of words) q = addClause(q, quoteValue(word));
  return q;
}

export function createGroupsView({ onAuthError }) {
  let state = null;
  let controller = null;
  const picker = createRangePicker({ onChange: (range) => navigate(range) });
  const status = h("p", { class: "groups-status", role: "status" });
  const body = h("tbody");
  const table = h("table", { class: "groups-table" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Level"), h("th", { scope: "col" }, "Error"),
      h("th", { scope: "col", class: "num" }, "Events"), h("th", { scope: "col" }, "Trend"),
      h("th", { scope: "col" }, "Last seen"), h("th", { scope: "col" }, "First seen"))),
    body);
  const el = h("div", { class: "view view-groups" },
    h("div", { class: "toolbar" }, h("h1", {}, "Error groups"), h("span", { class: "spacer" }), picker.el),
    h("section", { class: "panel groups-panel", "aria-label": "Error groups" }, status, table));

  const onFilter = (field, value, negate) => navigate({ view: "search", q: clause(field, value, negate), live: false });

  function groupRows(group) {
    const sampleRow = h("tr", { class: "group-sample", hidden: true },
      h("td", { colspan: 6 }, group.sample
        ? h("ol", { class: "entries" }, entryRow(group.sample, { onFilter, expanded: true }))
        : h("p", { class: "muted" }, "No sample entry.")));
    const toggle = h("button", { type: "button", class: "group-toggle", "aria-expanded": "false" },
      h("span", { class: "group-title" }, group.title || "(no message)"));
    toggle.addEventListener("click", () => {
      const open = sampleRow.hidden;
      sampleRow.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
    });
    const meta = [group.errorName, group.service].filter(Boolean).join(" · ");
    const trend = Array.isArray(group.trend) ? group.trend : [];
    return [
      h("tr", { class: "group-row", "data-fingerprint": group.fingerprint },
        h("td", {}, levelBadge(group.level)),
        h("td", { class: "group-main" }, toggle,
          h("div", { class: "group-meta muted" }, meta,
            h("a", { href: href({ view: "search", q: groupQuery(group), from: state.from, to: state.to }), class: "chip" }, "Search"))),
        h("td", { class: "num" }, h("strong", {}, Number(group.count).toLocaleString())),
        h("td", {}, trend.length ? sparkline(trend, `Trend: ${trend.join(", ")}`) : "—"),
        h("td", { title: formatTime(group.lastSeen) }, ago(group.lastSeen)),
        h("td", { title: formatTime(group.firstSeen) }, ago(group.firstSeen)),
      ),
      sampleRow,
    ];
  }

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    status.textContent = "Loading…";
    try {
      const doc = await api.groups({ ...apiRange(state), limit: 100 }, { signal: controller.signal });
      body.replaceChildren(...doc.groups.flatMap(groupRows));
      status.textContent = doc.groups.length
        ? `${doc.groups.length} groups · ${describe(state)} · most recently seen first`
        : `No errors in ${describe(state).toLowerCase()}.`;
      table.hidden = !doc.groups.length;
    } catch (err) {
      if (controller.signal.aborted) return;
      body.replaceChildren();
      table.hidden = true;
      if (err instanceof ApiError && err.status === 404 && !/project/i.test(err.message)) {
        status.textContent = "Error groups are not available on this server.";
      } else {
        if (err instanceof ApiError && err.status === 401) onAuthError(err);
        status.textContent = describeError(err);
      }
    }
  }

  return {
    el,
    update(next) {
      state = next;
      picker.set(next);
      load();
    },
    unmount() {
      if (controller) controller.abort();
    },
  };
}
