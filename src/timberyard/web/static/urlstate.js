// The page's state lives in the URL hash, so any view can be shared as a link:
//   #/search?q=level:error&from=-1h&to=now&project=prj_1
//   #/groups?from=-24h&to=now   #/session/<id>   #/flow/<id>

import { DEFAULT_RANGE, validBound } from "./timerange.js";

export const VIEWS = ["search", "groups", "session", "flow"];

/** The state a hash describes: {view, id, q, from, to, project, live}. */
export function parse(hash) {
  const text = (hash || "").replace(/^#/, "");
  const [path, query = ""] = text.split(/\?(.*)/s, 2);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  if (parts[0] === "entry" && /^[0-9a-f]{16}$/.test(parts[1] || "")) {
    // Links in notifications: #/entry/<id>?project=… opens a search for that one entry.
    return { view: "search", id: "", q: `id:${parts[1]}`, from: "-3650d", to: "now",
             project: params.get("project") || "", live: false };
  }
  let view = VIEWS.includes(parts[0]) ? parts[0] : "search";
  const id = parts.slice(1).join("/");
  if ((view === "session" || view === "flow") && !id) view = "search";
  let from = params.get("from") || DEFAULT_RANGE.from;
  let to = params.get("to") || DEFAULT_RANGE.to;
  if (!validBound(from) || !validBound(to)) ({ from, to } = DEFAULT_RANGE);
  return {
    view,
    id,
    q: params.get("q") || "",
    from,
    to,
    project: params.get("project") || "",
    live: params.get("live") === "1",
  };
}

/** The hash of a state; the inverse of parse(). */
export function format(state) {
  const params = new URLSearchParams();
  const ranged = state.view === "search" || state.view === "groups";
  if (state.view === "search" && state.q) params.set("q", state.q);
  if (ranged) {
    params.set("from", state.from || DEFAULT_RANGE.from);
    params.set("to", state.to || DEFAULT_RANGE.to);
  }
  if (state.project) params.set("project", state.project);
  if (state.view === "search" && state.live) params.set("live", "1");
  const path = state.id ? `${state.view}/${encodeURIComponent(state.id)}` : state.view;
  const query = params.toString().replace(/%3A/gi, ":").replace(/%2F/gi, "/");
  return `#/${path}${query ? `?${query}` : ""}`;
}

/** The current state of the page. */
export function current() {
  return parse(location.hash);
}

/** Go to a state: a new history entry, or replace the current one. */
export function navigate(changes, { replace = false } = {}) {
  const base = current();
  const state = { ...base, ...changes };
  if (changes.view && changes.view !== base.view && !("id" in changes)) state.id = "";
  const next = format(state);
  if (next === location.hash) return false;
  if (replace) history.replaceState(null, "", next);
  else location.hash = next;
  if (replace) window.dispatchEvent(new HashChangeEvent("hashchange"));
  return true;
}

/** A link (href) to a state, keeping the current project. */
export function href(changes) {
  const base = current();
  return format({ view: "search", q: "", from: base.from, to: base.to, project: base.project, ...changes });
}
