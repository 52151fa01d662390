// One download task: live progress, its spec and the dialect it came through, notices, actions
// and, once it SUCCEEDED, the manifest (slices, counts, checksums, completeness).

import { api, projectPath } from "../api.js";
import { formatBytes, formatCount, formatDuration, formatTime, h, replaceChildren } from "../dom.js";
import { watchTasks } from "../live.js";
import { navigate, routeHash } from "../router.js";
import { sinkFacts, sinkOfTask } from "../sinks.js";
import { notices, progressBar, progressFacts, statusBadge, taskActions, webhookState } from "../tasks-render.js";

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))));
}

function specFacts(task, sink) {
  const spec = task.spec;
  return facts([
    ["Logstore", spec.logstore + (spec.logstream ? ` / ${spec.logstream}` : "")],
    ["Query", h("code", { class: "query-text" }, spec.query)],
    ["Range", `${formatTime(spec.from)} → ${formatTime(spec.to)}`],
    ["Format", `${spec.format}${spec.format !== "parquet" && spec.compression !== "none" ? ` + ${spec.compression}` : ""}`],
    ["Order", spec.order === "asc" ? "oldest first" : "newest first"],
    ["Limit", spec.limit ? formatCount(spec.limit) : "every row"],
    spec.format === "csv" ? ["CSV", `header ${spec.csv.header ? "yes" : "no"}, delimiter “${spec.csv.delimiter}”, formulas ${spec.csv.escape_formulas ? "escaped" : "kept"}`] : null,
    ["Time zone", spec.timezone],
    ["Created through", h("span", { id: "task-dialect" }, task.dialect)],
    ...sinkFacts(task, sink),
  ]);
}

function runFacts(task) {
  return facts([
    ["Estimate", `${formatCount(task.estimate.rows)} rows, ${formatBytes(task.estimate.bytes)}`],
    ["Slices", `${task.slices_done} of ${task.slices_total || "?"}`],
    ["Attempts", String(task.attempts)],
    ["Created", formatTime(task.created_at)],
    ["Started", formatTime(task.started_at)],
    ["Finished", formatTime(task.finished_at)],
    ["Duration", formatDuration(task.duration_seconds)],
    ["File kept until", formatTime(task.expires_at)],
    ["File", task.file_name || "—"],
  ]);
}

function manifestSection(manifest) {
  const statusNote = manifest.status === "complete" ? null
    : h("div", { class: "notice warn", id: "manifest-status-note" }, `The manifest says ${manifest.status}.`);
  return h("section", { class: "card", id: "manifest", "aria-labelledby": "manifest-title" },
    h("h2", { id: "manifest-title" }, "Manifest"),
    statusNote,
    facts([
      ["Status", h("span", { id: "manifest-status" }, manifest.status)],
      ["Rows", h("span", { id: "manifest-rows" }, formatCount(manifest.rows))],
      ["Bytes", formatBytes(manifest.bytes)],
      ["sha256", h("code", { class: "hash" }, manifest.sha256)],
      ["md5", h("code", { class: "hash" }, manifest.md5)],
    ]),
    h("div", { class: "table-scroll" }, h("table", { class: "slices", "aria-label": "Slices" },
      h("thead", {}, h("tr", {}, ["#", "From", "To", "Rows", "Bytes"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, manifest.slices.map((slice) => h("tr", {},
        h("td", {}, String(slice.index)),
        h("td", {}, formatTime(slice.time_range.start)),
        h("td", {}, formatTime(slice.time_range.end)),
        h("td", { class: "number" }, formatCount(slice.rows)),
        h("td", { class: "number" }, formatBytes(slice.bytes))))))),
    manifest.missing_ranges.length ? h("p", { class: "notice warn" }, "Missing: ",
      manifest.missing_ranges.map((range) => `${formatTime(range.start)} → ${formatTime(range.end)}`).join(", ")) : null);
}

export async function renderTask(main, route) {
  const { project, taskId } = route;
  let task = await api.get(projectPath(project, "download-tasks", taskId));
  const sink = await sinkOfTask(task);
  const live = h("div", { id: "task-live" });
  const manifestBox = h("div", { id: "manifest-box" });
  let manifestShown = false;

  async function showManifest() {
    if (manifestShown || task.status !== "SUCCEEDED") return;
    manifestShown = true;
    try {
      replaceChildren(manifestBox, manifestSection(await api.get(projectPath(project, "download-tasks", task.id, "manifest"))));
    } catch (error) {
      replaceChildren(manifestBox, h("div", { class: "notice error" }, `Manifest: ${error.message}`));
    }
  }
  function render() {
    replaceChildren(live,
      h("div", { class: "task-head" }, statusBadge(task), progressBar(task)),
      h("p", { class: "task-facts" }, progressFacts(task)),
      webhookState(task),
      notices(task),
      taskActions(project, task, (changed) => {
        if (changed === null) navigate(routeHash(project, "tasks"));
        else { task = changed; render(); }
      }),
      h("div", { class: "grid two" },
        h("section", { class: "card", "aria-labelledby": "spec-title" }, h("h2", { id: "spec-title" }, "What it exports"), specFacts(task, sink)),
        h("section", { class: "card", "aria-labelledby": "run-title" }, h("h2", { id: "run-title" }, "Run"), runFacts(task))));
    showManifest();
  }
  replaceChildren(main,
    h("p", { class: "breadcrumbs" }, h("a", { href: routeHash(project, "tasks") }, "Download tasks"), " / "),
    h("div", { class: "page-head" }, h("h1", {}, task.name), h("span", { class: "muted mono" }, task.id)),
    live, manifestBox);
  render();
  return watchTasks(project, [task.id], {
    onTask: (changed) => {
      if (changed.id !== task.id) return;
      task = changed;
      render();
    },
    onRemoved: () => navigate(routeHash(project, "tasks")),
  });
}
