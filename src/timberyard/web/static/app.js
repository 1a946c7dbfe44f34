// The dashboard: sign-in, the page shell, routing by URL hash and keyboard shortcuts.

import { auth, credentialLabel } from "./auth.js";
import { h, isTyping } from "./dom.js";
import { createSwitcher } from "./switcher.js";
import { current, href, navigate } from "./urlstate.js";
import { createGroupsView } from "./view-groups.js";
import { createRelatedView } from "./view-related.js";
import { createSearchView } from "./view-search.js";
import { createSignIn } from "./view-signin.js";

const TITLES = { search: "Search", groups: "Error groups", session: "Session", flow: "Flow" };
const root = document.getElementById("app");

let shell = null; // {main, nav, switcher}
let view = null; // {name, instance}
let focusQueryAfterRoute = false;

function signOut(notice) {
  if (view) view.instance.unmount();
  view = null;
  shell = null;
  auth.clear();
  showSignIn(notice);
}

const ctx = {
  onAuthError: () => signOut("The server no longer accepts this key. Sign in again."),
};

function showSignIn(notice) {
  const page = createSignIn({
    notice,
    onSignedIn: (credential) => {
      auth.set(credential);
      showShell();
    },
  });
  root.replaceChildren(page.el);
  document.title = "Sign in · Timberyard";
  page.focus();
}

function navLink(name, label) {
  return h("a", { class: "nav-link", "data-view": name, href: href({ view: name }) }, label);
}

function showShell() {
  const credential = auth.get();
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const nav = h("nav", { class: "nav", "aria-label": "Views" }, navLink("search", "Search"), navLink("groups", "Error groups"));
  const switcher = credential.kind === "admin" ? createSwitcher({ onProject: (project) => navigate({ project }) }) : null;
  const skip = h("button", { type: "button", class: "skip-link", onClick: () => main.focus() }, "Skip to content");
  const header = h("header", { class: "topbar" },
    skip,
    h("a", { class: "brand", href: href({ view: "search" }) }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Timberyard"),
    nav,
    h("span", { class: "spacer" }),
    switcher && switcher.el,
    h("span", { class: "credential", title: "Signed in with" }, credentialLabel(credential)),
    h("button", { type: "button", class: "small", onClick: () => signOut("") }, "Sign out"),
  );
  root.replaceChildren(header, main);
  shell = { main, nav, switcher, switcherLoaded: false };
  route();
}

function createView(name) {
  if (name === "search") return createSearchView(ctx);
  if (name === "groups") return createGroupsView(ctx);
  return createRelatedView(name, ctx);
}

async function route() {
  if (!shell) return;
  const state = current();
  const credential = auth.get();
  if (credential.kind === "admin") {
    if (!shell.switcherLoaded) {
      shell.switcherLoaded = true;
      const shown = await shell.switcher.load(state.project || credential.project || "");
      if (!state.project && shown) {
        auth.update({ project: shown });
        navigate({ project: shown }, { replace: true });
        return;
      }
    }
    if (!state.project) {
      shell.main.replaceChildren(h("p", { class: "panel notice" }, "Choose an organisation and a project above."));
      return;
    }
    auth.update({ project: state.project });
    await shell.switcher.show(state.project);
  }
  for (const link of shell.nav.querySelectorAll("a")) {
    link.href = href({ view: link.dataset.view });
    if (link.dataset.view === state.view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!view || view.name !== state.view) {
    if (view) view.instance.unmount();
    view = { name: state.view, instance: createView(state.view) };
    shell.main.replaceChildren(view.instance.el);
  }
  if (state.view !== "session" && state.view !== "flow") document.title = `${TITLES[state.view]} · Timberyard`;
  view.instance.update(state);
  if (focusQueryAfterRoute && state.view === "search") view.instance.focusQuery();
  focusQueryAfterRoute = false;
}

window.addEventListener("hashchange", () => route());

document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || isTyping(event) || !shell) return;
  event.preventDefault();
  if (view && view.name === "search") view.instance.focusQuery();
  else {
    focusQueryAfterRoute = true;
    navigate({ view: "search", id: "" });
  }
});

if (auth.get()) showShell();
else showSignIn("");
