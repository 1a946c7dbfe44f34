// The facet sidebar: top values of each field over the matching entries; click to filter.

import { h } from "./dom.js";
import { isFieldName } from "./querytext.js";

const OPEN_BY_DEFAULT = new Set(["level", "service", "environment", "host", "errorName", "tag"]);

function valueRow(name, item, total, onFilter) {
  const share = total ? Math.round((item.count / total) * 100) : 0;
  const filterable = isFieldName(name) && !/^[[{]/.test(item.value);
  const label = item.value === "" ? "(empty)" : item.value;
  const bar = h("span", { class: "facet-bar", "aria-hidden": "true" });
  bar.style.width = `${Math.max(2, share)}%`;
  if (!filterable) {
    return h("li", { class: "facet-value" }, h("span", { class: "facet-label" }, label),
      h("span", { class: "facet-count" }, item.count.toLocaleString()), bar);
  }
  return h("li", { class: "facet-value" },
    h("button", {
      type: "button", class: "facet-filter", title: `Filter: ${name}:${item.value}`,
      "data-field": name, "data-value": item.value, onClick: () => onFilter(name, item.value, false),
    }, h("span", { class: "facet-label" }, label), h("span", { class: "facet-count" }, item.count.toLocaleString())),
    h("button", {
      type: "button", class: "exclude", title: `Exclude: -${name}:${item.value}`,
      "aria-label": `Exclude ${name} ${label}`, onClick: () => onFilter(name, item.value, true),
    }, "−"),
    bar,
  );
}

/** Fill the sidebar from a /v1/fields document. */
export function renderFacets(container, doc, onFilter) {
  if (!doc.fields.length) {
    container.replaceChildren(h("p", { class: "muted" }, "No fields in this range."));
    return;
  }
  container.replaceChildren(
    h("p", { class: "facet-note muted" },
      doc.sampled ? `Top values in the newest ${doc.rows.toLocaleString()} entries` : `Top values in ${doc.rows.toLocaleString()} entries`),
    ...doc.fields.map((field) =>
      h("details", { class: "facet", open: OPEN_BY_DEFAULT.has(field.name) || field.name.startsWith("fields.") && doc.fields.length < 12 },
        h("summary", {}, h("span", { class: "facet-name" }, field.name), h("span", { class: "facet-count" }, field.count.toLocaleString())),
        h("ul", {}, field.values.map((item) => valueRow(field.name, item, field.count, onFilter))),
      )),
  );
}
