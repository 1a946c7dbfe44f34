// The admin's organisation and project pickers.

import { api, describeError } from "./api.js";
import { auth } from "./auth.js";
import { h } from "./dom.js";

/** Returns {el, load(projectId)}; onProject(id) when the admin picks a project. */
export function createSwitcher({ onProject }) {
  const orgSelect = h("select", { id: "org-select" });
  const projectSelect = h("select", { id: "project-select" });
  const problem = h("span", { class: "error-text small-text", role: "alert" });
  const el = h("div", { class: "switcher" },
    h("label", { for: "org-select" }, "Organisation"), orgSelect,
    h("label", { for: "project-select" }, "Project"), projectSelect, problem);

  async function fillProjects(orgId, wanted) {
    const { projects } = await api.projects(orgId);
    projectSelect.replaceChildren(...projects.map((p) =>
      h("option", { value: p.id }, `${p.name}${p.active === false ? " (inactive)" : ""}`)));
    if (!projects.length) {
      projectSelect.append(h("option", { value: "" }, "No projects"));
      return "";
    }
    const chosen = projects.find((p) => p.id === wanted) || projects.find((p) => p.active !== false) || projects[0];
    projectSelect.value = chosen.id;
    return chosen.id;
  }

  orgSelect.addEventListener("change", async () => {
    try {
      auth.update({ organisation: orgSelect.value });
      const id = await fillProjects(orgSelect.value, "");
      if (id) onProject(id);
    } catch (err) {
      problem.textContent = describeError(err);
    }
  });
  projectSelect.addEventListener("change", () => {
    if (projectSelect.value) onProject(projectSelect.value);
  });

  return {
    el,
    /** Show the organisations and select the one of `projectId`; resolves to the project shown. */
    async load(projectId) {
      problem.textContent = "";
      try {
        const { organisations } = await api.organisations();
        orgSelect.replaceChildren(...organisations.map((o) => h("option", { value: o.id }, `${o.name} (${o.plan})`)));
        let orgId = auth.get().organisation;
        if (projectId) {
          try {
            orgId = (await api.project(projectId)).organisation;
          } catch {
            problem.textContent = `Project ${projectId} not found.`;
          }
        }
        if (!organisations.some((o) => o.id === orgId)) orgId = organisations.length ? organisations[0].id : "";
        if (!orgId) {
          problem.textContent = "No organisations yet.";
          return "";
        }
        orgSelect.value = orgId;
        auth.update({ organisation: orgId });
        return await fillProjects(orgId, projectId);
      } catch (err) {
        problem.textContent = describeError(err);
        return "";
      }
    },
    /** Follow a project named by the URL (a link, Back): select it, in its organisation. */
    async show(projectId) {
      if ([...projectSelect.options].some((o) => o.value === projectId)) projectSelect.value = projectId;
      else await this.load(projectId);
    },
  };
}
