// The query input: runs on Enter, and marks a syntax error where it is.

import { h } from "./dom.js";
import { utf16Index } from "./querytext.js";

/** A search form; onSubmit(query) runs it. Returns {el, input, set, showError, clearError}. */
export function createQueryBox({ onSubmit, placeholder }) {
  const before = h("span");
  const mark = h("mark", { class: "query-mark" });
  const after = h("span");
  const backdrop = h("div", { class: "query-backdrop", "aria-hidden": "true" }, before, mark, after);
  const input = h("input", {
    id: "query", type: "search", class: "query-input mono", name: "q", autocomplete: "off",
    spellcheck: "false", placeholder: placeholder || 'level:>=warn service:api "timed out"',
    "aria-describedby": "query-help", "aria-keyshortcuts": "/",
  });
  const message = h("div", { class: "query-error", id: "query-error", role: "alert", hidden: true });
  const help = h("div", { class: "query-help", id: "query-help" },
    "Words search the message; ", h("code", {}, "field:value"), ", ", h("code", {}, "level:>=warn"), ", ",
    h("code", {}, '"a phrase"'), ", ", h("code", {}, "AND OR NOT -term"), ". Press ", h("kbd", {}, "/"),
    " to focus, ", h("kbd", {}, "Enter"), " to search.");
  const form = h("form", { class: "query-form", role: "search" },
    h("label", { for: "query", class: "sr-only" }, "Search query"),
    h("div", { class: "query-field" }, backdrop, input),
    h("button", { type: "submit", class: "primary" }, "Search"),
  );
  const el = h("div", { class: "query-box" }, form, message, help);

  const sync = () => { backdrop.scrollLeft = input.scrollLeft; };
  input.addEventListener("scroll", sync);
  input.addEventListener("keyup", sync);
  input.addEventListener("input", () => clearError());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") input.blur();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit(input.value.trim());
  });

  function clearError() {
    el.classList.remove("has-error");
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", "query-help");
    message.hidden = true;
    message.textContent = "";
    backdrop.hidden = true;
  }

  /** Show a QUERY_ERROR body {error, position, query} at its position. */
  function showError(body) {
    const query = typeof body.query === "string" ? body.query : input.value;
    if (input.value.trim() !== query.trim()) input.value = query;
    const offset = input.value.indexOf(query);
    const index = Math.max(0, offset) + utf16Index(query, Number(body.position) || 0);
    const value = input.value;
    // The one character at fault; past the end a blank marks "here".
    const width = index < value.length ? [...value.slice(index, index + 2)][0].length : 0;
    before.textContent = value.slice(0, index);
    mark.textContent = width ? value.slice(index, index + width) : "\u00a0";
    after.textContent = value.slice(index + width);
    backdrop.hidden = false;
    el.classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "query-error query-help");
    let problem = String(body.error || "invalid query");
    const prefix = `cannot parse query ${JSON.stringify(query)}: `;
    if (problem.startsWith(prefix)) problem = problem.slice(prefix.length);
    message.replaceChildren(h("strong", {}, "Query error: "), problem);
    message.dataset.position = String(index);
    message.hidden = false;
    input.focus();
    input.setSelectionRange(index, index + width);
    requestAnimationFrame(sync);
  }

  clearError();
  return {
    el,
    input,
    set(value) {
      if (input.value !== value) input.value = value;
    },
    showError,
    clearError,
  };
}
