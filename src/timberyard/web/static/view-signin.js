// Sign in with a project's read or server key, or with the admin token.

import { ApiError, getJSON } from "./api.js";
import { isProjectKey } from "./auth.js";
import { h } from "./dom.js";

const KEY_PROBLEMS = {
  401: "This key is not valid: it is unknown, revoked or mistyped.",
  403: "This key cannot read logs (it is an ingest-only or public key). Use a read key (rk_…) or a server key (sk_…).",
  404: "This key's project is inactive or deleted.",
};

/** Check a token against the server; resolves to the credential to keep. */
export async function checkToken(token) {
  try {
    if (isProjectKey(token)) {
      await getJSON("/v1/logs", { limit: 1, total: "false", from: "-1m" }, { token, scoped: false });
      return { token, kind: "key" };
    }
    await getJSON("/v1/admin/organisations", {}, { token, scoped: false });
    return { token, kind: "admin" };
  } catch (err) {
    if (err instanceof ApiError) {
      if (!isProjectKey(token) && (err.status === 401 || err.status === 403)) {
        throw new Error("This is neither a project key (sk_…, rk_…) nor the admin token of this server.");
      }
      throw new Error(KEY_PROBLEMS[err.status] || err.message);
    }
    throw new Error(`Cannot reach the server: ${err.message}`);
  }
}

/** The sign-in page; onSignedIn(credential) once the server accepts the token. */
export function createSignIn({ onSignedIn, notice }) {
  const input = h("input", {
    id: "token", type: "password", name: "token", autocomplete: "off", spellcheck: "false",
    required: true, class: "mono", "aria-describedby": "token-help",
  });
  const reveal = h("button", { type: "button", class: "small", "aria-pressed": "false", "aria-label": "Show the key" }, "Show");
  const problem = h("p", { class: "error-text", role: "alert", id: "signin-problem" }, notice || "");
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "signin panel", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Timberyard"),
    h("label", { for: "token" }, "API key or admin token"),
    h("div", { class: "token-row" }, input, reveal),
    h("p", { class: "muted", id: "token-help" },
      "A project's read key (rk_…) or server key (sk_…) shows that project's logs; the admin token lets you switch between organisations and projects. ",
      "It is kept in this browser tab only (sessionStorage) and sent only to this server."),
    problem,
    submit,
  );
  reveal.addEventListener("click", () => {
    const shown = input.type === "password";
    input.type = shown ? "text" : "password";
    reveal.textContent = shown ? "Hide" : "Show";
    reveal.setAttribute("aria-pressed", String(shown));
    reveal.setAttribute("aria-label", shown ? "Hide the key" : "Show the key");
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    submit.disabled = true;
    problem.textContent = "Checking…";
    try {
      onSignedIn(await checkToken(token));
    } catch (err) {
      problem.textContent = err.message;
      input.focus();
      input.select();
    } finally {
      submit.disabled = false;
    }
  });
  const el = h("main", { class: "signin-page", id: "main" }, form);
  return { el, focus: () => input.focus() };
}
