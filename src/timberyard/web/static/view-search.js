// The search view: query, range, histogram, facets, results, and the live tail.

import { ApiError, api, describeError } from "./api.js";
import { h } from "./dom.js";
import { entryRow } from "./entries.js";
import { renderFacets } from "./facets.js";
import { createHistogram } from "./histogram.js";
import { createQueryBox } from "./querybox.js";
import { addClause, clause } from "./querytext.js";
import { createRangePicker } from "./rangepicker.js";
import { createTail } from "./tail.js";
import { absolute, apiRange, describe, resolve } from "./timerange.js";
import { navigate } from "./urlstate.js";

const PAGE = 100;

export function createSearchView({ onAuthError }) {
  let state = null;
  let controller = null;
  let nextCursor = null;
  let lastSearch = "";

  const onFilter = (field, value, negate) => {
    const base = queryBox.input.value.trim();
    navigate({ view: "search", q: addClause(base, clause(field, value, negate)) });
  };
  const queryBox = createQueryBox({ onSubmit: (q) => {
    if (!navigate({ q })) run(true); // the same query again: search again
  } });
  const picker = createRangePicker({ onChange: (range) => navigate(range) });
  const liveButton = h("button", { type: "button", class: "live-toggle", "aria-pressed": "false",
    title: "Stream new matching entries as they arrive" }, h("span", { class: "live-dot", "aria-hidden": "true" }), "Live tail");
  const shareButton = h("button", { type: "button", title: "Copy a link to this search" }, "Copy link");
  const histogram = createHistogram({
    onZoom: (a, b) => navigate(absolute(a, b)),
    onZoomOut: () => {
      const { from, to } = resolve(state);
      const now = Date.now();
      const span = (to - from) * 2;
      const end = Math.min(now, (from + to) / 2 + span / 2);
      navigate(absolute(end - span, end));
    },
    onFilter,
  });
  const facets = h("div", { class: "facets-body" });
  const resultsHead = h("div", { class: "results-head", role: "status" });
  const list = h("ol", { class: "entries results-list", "aria-label": "Matching entries, newest first" });
  const more = h("button", { type: "button", class: "load-more", hidden: true }, "Load more");
  const results = h("section", { class: "results panel", "aria-label": "Results" }, resultsHead, list, more);
  const tail = createTail({ onFilter, onQueryError: (body) => queryBox.showError(body) });

  const el = h("div", { class: "view view-search" },
    h("div", { class: "toolbar" }, queryBox.el,
      h("div", { class: "toolbar-controls" }, picker.el, liveButton, shareButton)),
    histogram.el,
    h("div", { class: "search-body" },
      h("aside", { class: "facets panel", "aria-label": "Fields" }, h("h2", {}, "Fields"), facets),
      h("div", { class: "search-main" }, results, tail.el),
    ),
  );

  liveButton.addEventListener("click", () => navigate({ live: !state.live }));
  shareButton.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      shareButton.textContent = "Link copied";
    } catch {
      shareButton.textContent = "Copy the address bar";
    }
    setTimeout(() => { shareButton.textContent = "Copy link"; }, 1500);
  });
  more.addEventListener("click", () => loadMore());

  function fail(err, target) {
    if (err instanceof ApiError && err.status === 401) onAuthError(err);
    target.replaceChildren(h("p", { class: "error-text" }, describeError(err)));
  }

  async function run(force = false) {
    const key = JSON.stringify([state.q, state.from, state.to, state.project]);
    if (!force && key === lastSearch) return;
    lastSearch = key;
    if (controller) controller.abort();
    controller = new AbortController();
    const { signal } = controller;
    const params = { q: state.q, ...apiRange(state) };
    queryBox.clearError();
    results.setAttribute("aria-busy", "true");
    histogram.setLoading(true);
    resultsHead.textContent = "Searching…";
    // Histogram and facets fill in as they come; a newer search aborts all three.
    api.histogram(params, { signal }).then(
      (doc) => { if (!signal.aborted) histogram.render(doc); },
      (err) => { if (!signal.aborted) histogram.setError(err.code === "QUERY_ERROR" ? "" : describeError(err)); },
    );
    api.fields(params, { signal }).then(
      (doc) => { if (!signal.aborted) renderFacets(facets, doc, onFilter); },
      (err) => {
        if (!signal.aborted) facets.replaceChildren(h("p", { class: "muted" }, err.code === "QUERY_ERROR" ? "" : describeError(err)));
      },
    );
    try {
      const page = await api.logs({ ...params, limit: PAGE }, { signal });
      if (signal.aborted) return;
      nextCursor = page.nextCursor;
      list.replaceChildren(...page.logs.map((entry) => entryRow(entry, { onFilter })));
      resultsHead.replaceChildren(
        h("strong", {}, `${page.total.toLocaleString()} ${page.total === 1 ? "entry" : "entries"}`),
        ` · ${describe(state)} · newest first`,
      );
      if (!page.logs.length) list.append(h("li", { class: "empty" }, "No entries match this query in this range."));
      more.hidden = !nextCursor;
    } catch (err) {
      if (signal.aborted) return;
      list.replaceChildren();
      more.hidden = true;
      if (err instanceof ApiError && err.code === "QUERY_ERROR") {
        queryBox.showError(err.body);
        resultsHead.textContent = "Fix the query to see results.";
      } else fail(err, resultsHead);
    } finally {
      if (!signal.aborted) results.removeAttribute("aria-busy");
    }
  }

  async function loadMore() {
    if (!nextCursor) return;
    more.disabled = true;
    try {
      const page = await api.logs({ q: state.q, ...apiRange(state), limit: PAGE, cursor: nextCursor, total: false });
      nextCursor = page.nextCursor;
      list.append(...page.logs.map((entry) => entryRow(entry, { onFilter })));
      more.hidden = !nextCursor;
    } catch (err) {
      fail(err, resultsHead);
    } finally {
      more.disabled = false;
    }
  }

  return {
    el,
    focusQuery() {
      queryBox.input.focus();
      queryBox.input.select();
    },
    update(next) {
      const previous = state;
      state = next;
      queryBox.set(next.q);
      picker.set(next);
      liveButton.setAttribute("aria-pressed", String(next.live));
      liveButton.classList.toggle("on", next.live);
      results.hidden = next.live;
      if (next.live) {
        if (!tail.isRunning() || !previous || previous.q !== next.q || !previous.live) tail.start(next.q);
      } else tail.stop();
      run();
    },
    unmount() {
      tail.stop();
      if (controller) controller.abort();
    },
  };
}
