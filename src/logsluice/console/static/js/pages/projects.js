// Projects the signed-in identity can see, each with its logstores.

import { api, projectPath } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { state } from "../state.js";

export async function renderProjects(main) {
  const cards = await Promise.all(state.projects.map(async (name) => {
    const { logstores } = await api.get(projectPath(name, "logstores"));
    const href = `#/p/${encodeURIComponent(name)}`;
    return h("li", { class: "card project-card" },
      h("h2", {}, h("a", { href }, name)),
      h("p", { class: "muted" }, `${logstores.length} logstore${logstores.length === 1 ? "" : "s"}`),
      h("ul", { class: "inline-list" }, logstores.map((logstore) => h("li", {}, h("a", { href: `${href}/search?logstore=${encodeURIComponent(logstore.name)}` }, logstore.name)))),
      h("p", { class: "actions" }, h("a", { class: "button", href: `${href}/tasks` }, "Tasks")));
  }));
  replaceChildren(main,
    h("div", { class: "page-head" }, h("h1", {}, "Projects")),
    cards.length
      ? h("ul", { class: "cards" }, cards)
      : h("div", { class: "notice" }, "No projects yet. Create one with ", h("code", {}, "logsluice project create NAME"), " or load the demo data with ", h("code", {}, "logsluice demo-data"), "."));
}
