// The logstores of a project: records, time span, retention and fields, each a way into search.

import { api, projectPath } from "../api.js";
import { formatCount, formatTime, h, replaceChildren } from "../dom.js";
import { routeHash } from "../router.js";

function fieldList(fields) {
  return h("ul", { class: "field-list" }, fields.map((field) => h("li", {}, h("code", {}, field.name), h("span", { class: "type" }, field.type))));
}

function logstoreRow(project, details, stats) {
  const search = routeHash(project, "search", { logstore: details.name });
  const span = stats.records ? `${formatTime(stats.first_record_at)} → ${formatTime(stats.last_record_at)}` : "empty";
  return h("article", { class: "card logstore", "aria-labelledby": `logstore-${details.name}` },
    h("div", { class: "logstore-head" },
      h("h2", { id: `logstore-${details.name}` }, details.name),
      h("a", { class: "button primary", href: search }, "Search")),
    details.description ? h("p", { class: "muted" }, details.description) : null,
    h("dl", { class: "facts" },
      h("div", {}, h("dt", {}, "Records"), h("dd", { class: "records" }, formatCount(stats.records))),
      h("div", {}, h("dt", {}, "Time span"), h("dd", {}, span)),
      h("div", {}, h("dt", {}, "Retention"), h("dd", {}, `${details.retention_days} days`)),
      h("div", {}, h("dt", {}, "Logstreams"), h("dd", {}, details.logstreams.map((stream) => `${stream.name || "(none)"}: ${formatCount(stream.records)}`).join(", ") || "—"))),
    h("details", {}, h("summary", {}, `${details.fields.length} fields`), fieldList(details.fields)));
}

export async function renderLogstores(main, route) {
  const { project } = route;
  const { logstores } = await api.get(projectPath(project, "logstores"));
  const rows = await Promise.all(logstores.map(async (logstore) => {
    const [details, stats] = await Promise.all([
      api.get(projectPath(project, "logstores", logstore.name)),
      api.get(projectPath(project, "logstores", logstore.name, "stats")),
    ]);
    return logstoreRow(project, details, stats);
  }));
  replaceChildren(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Logstores ", h("span", { class: "muted" }, `in ${project}`)),
      h("a", { class: "button", href: routeHash(project, "tasks") }, "Download tasks")),
    rows.length ? h("div", { class: "logstores" }, rows) : h("div", { class: "notice" }, "This project has no logstores yet."));
}
