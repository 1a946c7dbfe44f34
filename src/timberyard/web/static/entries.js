// One log entry as a row of a list, expandable to every field and its `fields` JSON.

import { h } from "./dom.js";
import { clause, fieldsPath } from "./querytext.js";
import { formatTime } from "./timerange.js";
import { href } from "./urlstate.js";

export const LEVELS = ["trace", "debug", "info", "success", "warn", "error", "fatal"];

// The canonical fields the detail shows, in order; `filter` says whether a
// value can be clicked into a `field:value` filter.
const ATTRIBUTES = [
  ["id", true], ["level", true], ["service", true], ["environment", true], ["dataset", true],
  ["host", true], ["instanceId", true], ["version", true], ["userId", true], ["sessionId", true],
  ["requestId", true], ["flowId", true], ["stepIndex", true], ["traceId", true], ["spanId", true],
  ["errorName", true], ["tags", true], ["severity", true], ["receivedAt", false],
  ["fingerprint", false],
];

let counter = 0;

/** A level as a coloured badge. */
export function levelBadge(level) {
  const name = LEVELS.includes(level) ? level : "info";
  return h("span", { class: `level level-${name}` }, level || "info");
}

function firstLine(text) {
  const value = String(text ?? "");
  const cut = value.indexOf("\n");
  return cut < 0 ? value : `${value.slice(0, cut)} …`;
}

function filterButtons(field, value, onFilter) {
  const shown = typeof value === "string" ? value : JSON.stringify(value);
  const text = clause(field, value);
  return h("span", { class: "filterable" },
    h("button", {
      type: "button", class: "value", title: `Filter: ${text}`, "aria-label": `Filter ${text}`,
      onClick: () => onFilter(field, value, false),
    }, shown),
    h("button", {
      type: "button", class: "exclude", title: `Exclude: -${text}`, "aria-label": `Exclude ${text}`,
      onClick: () => onFilter(field, value, true),
    }, "−"),
  );
}

/** `fields` as indented JSON whose scalar values filter on click. */
export function jsonTree(value, onFilter, path = [], indent = "") {
  const inner = `${indent}  `;
  if (Array.isArray(value) || (value && typeof value === "object")) {
    const isArray = Array.isArray(value);
    const keys = isArray ? value.map((_, i) => i) : Object.keys(value);
    if (!keys.length) return [isArray ? "[]" : "{}"];
    const out = [isArray ? "[\n" : "{\n"];
    keys.forEach((key, i) => {
      out.push(inner);
      if (!isArray) out.push(h("span", { class: "json-key" }, JSON.stringify(key)), ": ");
      // Array items cannot be named by a field path; they show without a filter.
      const childPath = isArray ? null : path && [...path, String(key)];
      out.push(...jsonTree(value[key], onFilter, childPath, inner));
      out.push(i < keys.length - 1 ? ",\n" : "\n");
    });
    out.push(indent, isArray ? "]" : "}");
    return out;
  }
  const type = value === null ? "null" : typeof value;
  const text = JSON.stringify(value);
  const field = path && value !== null ? fieldsPath(path) : null;
  if (!field) return [h("span", { class: `json-${type}` }, text)];
  return [h("button", {
    type: "button", class: `json-value json-${type}`, title: `Filter: ${clause(field, value)}`,
    onClick: (event) => onFilter(field, value, event.altKey),
  }, text)];
}

function attributeValue(entry, key, filter, onFilter) {
  const value = entry[key];
  if (key === "receivedAt") return h("span", { title: new Date(value).toISOString() }, formatTime(value));
  if (key === "tags") return h("span", { class: "tags" }, value.map((tag) => filterButtons("tag", tag, onFilter)));
  if (!filter) return h("span", { class: "mono" }, String(value));
  return filterButtons(key, value, onFilter);
}

function relatedLinks(entry) {
  return [
    entry.sessionId && h("a", {
      class: "chip chip-session", href: href({ view: "session", id: entry.sessionId }),
      title: `Every entry of session ${entry.sessionId}`,
    }, "Session"),
    entry.flowId && h("a", {
      class: "chip chip-flow", href: href({ view: "flow", id: entry.flowId }),
      title: `Every step of flow ${entry.flowId}`,
    }, "Flow"),
  ];
}

function copyButton(entry) {
  const button = h("button", { type: "button", class: "small" }, "Copy JSON");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(JSON.stringify(entry, null, 2));
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = "Copy JSON"; }, 1500);
  });
  return button;
}

/** The expanded view of an entry: message, stack, attributes and `fields`. */
export function entryDetail(entry, onFilter) {
  const present = ATTRIBUTES.filter(([key]) => {
    const value = entry[key];
    return value !== null && value !== undefined && !(Array.isArray(value) && !value.length);
  });
  const fields = entry.fields && typeof entry.fields === "object" ? entry.fields : {};
  return [
    h("div", { class: "detail-head" },
      h("time", { datetime: entry.time, class: "mono" }, entry.time || new Date(entry.timestamp).toISOString()),
      h("span", { class: "spacer" }),
      relatedLinks(entry),
      h("a", { class: "chip", href: href({ q: clause("id", entry.id) }), title: "A link to this entry" }, "Permalink"),
      copyButton(entry),
    ),
    h("pre", { class: "detail-message" }, entry.message),
    entry.errorStack && h("pre", { class: "detail-stack", "aria-label": "Error stack" }, entry.errorStack),
    h("div", { class: "detail-grid" },
      h("dl", { class: "attributes" },
        present.map(([key, filter]) => [
          h("dt", {}, key), h("dd", {}, attributeValue(entry, key, filter, onFilter)),
        ]),
      ),
      h("div", { class: "fields-json" },
        h("h4", {}, "fields"),
        h("pre", { class: "json", "data-testid": "fields-json" }, jsonTree(fields, onFilter)),
      ),
    ),
  ];
}

/**
 * A list item for an entry: a toggle button with time, level, service and
 * message, links to its session and flow, and a detail built on first expand.
 * Options: onFilter(field, value, negate), lead(entry) for a leading column.
 */
export function entryRow(entry, { onFilter, lead, expanded = false } = {}) {
  const detailId = `entry-detail-${++counter}`;
  const detail = h("div", { class: "entry-detail", id: detailId, hidden: true });
  const toggle = h("button", {
    type: "button", class: "entry-toggle", "aria-expanded": "false", "aria-controls": detailId,
  },
    lead && h("span", { class: "entry-lead mono" }, lead(entry)),
    h("time", { class: "entry-time mono", datetime: entry.time, title: entry.time }, formatTime(entry.timestamp)),
    levelBadge(entry.level),
    h("span", { class: "entry-service", title: entry.service || "" }, entry.service || "—"),
    h("span", { class: "entry-message" }, firstLine(entry.message)),
  );
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    if (open && !detail.childElementCount) detail.append(...entryDetail(entry, onFilter).flat().filter(Boolean));
    toggle.setAttribute("aria-expanded", String(open));
    detail.hidden = !open;
    item.classList.toggle("open", open);
  });
  const item = h("li", { class: "entry", "data-id": entry.id, "data-level": entry.level },
    h("div", { class: "entry-line" }, toggle, h("span", { class: "entry-links" }, relatedLinks(entry))),
    detail,
  );
  if (expanded) toggle.click();
  return item;
}
