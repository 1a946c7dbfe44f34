// The HTTP API of this server, with the signed-in credential.

import { auth } from "./auth.js";

/** A non-2xx answer: status, the API's error code and its JSON body. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || "";
    this.body = body || {};
  }
}

/** A path with query parameters; empty values are left out. */
export function withParams(path, params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/** Headers that authenticate a request with the signed-in credential. */
export function authHeaders() {
  const current = auth.get();
  return current ? { Authorization: `Bearer ${current.token}` } : {};
}

/** Parameters every read needs: the admin token names its project. */
export function projectParams() {
  const current = auth.get();
  return current && current.kind === "admin" && current.project ? { project: current.project } : {};
}

/** GET a JSON document; throws ApiError on an error status. */
export async function getJSON(path, params, { signal, token, scoped = true } = {}) {
  const query = scoped ? { ...params, ...projectParams() } : params;
  const headers = token ? { Authorization: `Bearer ${token}` } : authHeaders();
  const response = await fetch(withParams(path, query), {
    headers: { Accept: "application/json", ...headers },
    signal,
    cache: "no-store",
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export const api = {
  logs: (params, opts) => getJSON("/v1/logs", params, opts),
  entry: (id, opts) => getJSON(`/v1/logs/${encodeURIComponent(id)}`, {}, opts),
  histogram: (params, opts) => getJSON("/v1/histogram", params, opts),
  fields: (params, opts) => getJSON("/v1/fields", params, opts),
  groups: (params, opts) => getJSON("/v1/groups", params, opts),
  session: (id, opts) => getJSON(`/v1/sessions/${encodeURIComponent(id)}`, {}, opts),
  flow: (id, opts) => getJSON(`/v1/flows/${encodeURIComponent(id)}`, {}, opts),
  organisations: (opts) => getJSON("/v1/admin/organisations", {}, { ...opts, scoped: false }),
  projects: (org, opts) =>
    getJSON(`/v1/admin/organisations/${encodeURIComponent(org)}/projects`, {}, {
      ...opts,
      scoped: false,
    }),
  project: (id, opts) =>
    getJSON(`/v1/admin/projects/${encodeURIComponent(id)}`, {}, { ...opts, scoped: false }),
};

/** A sentence for the person in front of the page, for any failure. */
export function describeError(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return "The key is not valid any more (unknown or revoked). Sign in again.";
    if (err.status === 403) return `Not allowed: ${err.message}`;
    return err.message;
  }
  if (err && err.name === "AbortError") return "Cancelled.";
  return `Cannot reach the server: ${err && err.message ? err.message : err}`;
}
