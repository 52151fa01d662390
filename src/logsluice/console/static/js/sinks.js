// Where a task's file goes: logsluice's own artifact store (download from the console or a link),
// or a sink — a bucket an administrator registered for the project (docs/api.md, ADR 0019). The
// export form asks sinkChoice() for its "Destination" fieldset and sinkSpec() for the fields to
// send; the task page asks sinkFacts() where the file went; pages/sinks.js manages them.

import { api, projectPath } from "./api.js";
import { h } from "./dom.js";
import { state } from "./state.js";

const BY_NAME = "*by-name"; // the select's "a sink, by name" option: no sink name holds "*"

// Only the unscoped admin may read sinks (the API's rule); nobody else asks, so their console
// shows no refused request.
export function maySeeSinks() {
  return Boolean(state.session) && state.session.role === "admin" && !state.session.project;
}

export async function listSinks(project) {
  return (await api.get(projectPath(project, "sinks"))).sinks;
}

// "prefix/more/…" without empty parts: how the server joins a sink's prefix, the task's further
// prefix and the task's own directory.
export function joinKey(...parts) {
  return parts.map((part) => String(part || "").replace(/^\/+|\/+$/g, "")).filter(Boolean).join("/");
}

export function sinkLabel(sink) {
  return `${sink.name} — ${joinKey(sink.bucket, sink.prefix)}`;
}

export function sinkChoice(project) {
  const select = h("select", { id: "export-sink", name: "sink" },
    h("option", { value: "" }, "logsluice (download from the console)"));
  const named = h("div", { class: "field", id: "export-sink-name-field", hidden: true },
    h("label", { for: "export-sink-name" }, "Sink name"),
    h("input", { id: "export-sink-name", spellcheck: "false", autocomplete: "off", placeholder: "as your administrator registered it" }));
  const prefix = h("div", { class: "field", id: "export-sink-prefix-field", hidden: true },
    h("label", { for: "export-sink-prefix" }, "Folder in the sink (optional)"),
    h("input", { id: "export-sink-prefix", spellcheck: "false", autocomplete: "off", placeholder: "e.g. daily/2026-03" }));
  const hint = h("p", { class: "hint", id: "export-sink-hint" });
  let sinks = [];

  function update() {
    const chosen = select.value;
    named.hidden = chosen !== BY_NAME;
    prefix.hidden = chosen === "";
    const sink = sinks.find((item) => item.name === chosen);
    const folder = prefix.querySelector("input").value;
    if (chosen === "") {
      hint.textContent = "The file stays in logsluice until it expires: download it from the console or a signed link.";
    } else if (sink) {
      hint.replaceChildren("The file goes to ", h("code", {}, `s3://${joinKey(sink.bucket, sink.prefix, folder, project, "<task id>", "<file>")}`), ` on ${sink.endpoint}, with its manifest.json beside it.`);
    } else {
      hint.textContent = "The file goes into that sink's bucket, under its prefix; a name it does not have is refused.";
    }
  }
  select.addEventListener("change", update);
  prefix.addEventListener("input", update);

  const fieldset = h("fieldset", { class: "sink-choice", id: "sink-choice" },
    h("legend", {}, "Destination"),
    h("div", { class: "grid two" },
      h("div", { class: "field" }, h("label", { for: "export-sink" }, "Write the file to"), select),
      prefix),
    named,
    hint);
  if (maySeeSinks()) {
    listSinks(project).then((found) => {
      sinks = found;
      for (const sink of sinks) select.append(h("option", { value: sink.name }, sinkLabel(sink)));
      if (!sinks.length) hint.append(" ", h("a", { href: `#/p/${encodeURIComponent(project)}/sinks` }, "Register a sink"), " to write files into a bucket of yours.");
    }).catch((error) => {
      hint.textContent = `Sinks could not be listed: ${error.message}`;
    });
  } else {
    select.append(h("option", { value: BY_NAME }, "A sink, by name…"));
  }
  update();
  return fieldset;
}

export function sinkSpec(form) {
  const select = form.querySelector("#export-sink");
  if (!select || select.value === "") return {};
  const name = select.value === BY_NAME ? form.querySelector("#export-sink-name").value.trim() : select.value;
  if (!name) return {};
  const prefix = form.querySelector("#export-sink-prefix").value.trim();
  return prefix ? { sink: name, sink_prefix: prefix } : { sink: name };
}

// The task page's "Destination" and "Object key": the sink (its bucket and full key when this
// identity may read sinks; else the key under the sink's own prefix) or logsluice's store.
export function sinkFacts(task, sink) {
  const target = task.spec.sink;
  if (!target) return [["Destination", h("span", { id: "task-destination" }, "logsluice (download from the console or a link)")]];
  const directory = joinKey(target.prefix, task.project, task.id);
  const file = task.file_name ? joinKey(directory, task.file_name) : `${directory}/`;
  let where;
  if (sink === undefined) where = h("span", {}, h("code", { id: "task-object-key" }, file), h("span", { class: "muted small" }, " under the sink's prefix"));
  else if (sink === null) where = h("span", {}, h("code", { id: "task-object-key" }, file), h("span", { class: "muted small" }, " (the sink was removed since)"));
  else where = h("span", {}, h("code", { id: "task-object-key" }, `s3://${joinKey(sink.bucket, sink.prefix, file)}`), h("span", { class: "muted small" }, ` on ${sink.endpoint}`));
  return [
    ["Destination", h("span", { id: "task-destination" }, "sink ", h("strong", { id: "task-sink" }, target.name))],
    [task.file_name ? "Object key" : "Goes to", where],
  ];
}

// The registered sink a task names, for its page: undefined when this identity may not read
// sinks, null when the sink was removed since.
export async function sinkOfTask(task) {
  const target = task.spec.sink;
  if (!target || !maySeeSinks()) return undefined;
  try {
    return (await listSinks(task.project)).find((sink) => sink.name === target.name) || null;
  } catch {
    return undefined;
  }
}

// The Admin page's pointer to each project's Sinks page.
export function sinkAdminSection() {
  return h("section", { class: "card", id: "sinks-admin", "aria-labelledby": "sinks-title" },
    h("h2", { id: "sinks-title" }, "Sinks"),
    h("p", { class: "muted" }, "Sinks are buckets on S3-compatible servers registered for a project; a task that names one writes its file there. Manage them per project:"),
    state.projects.length
      ? h("ul", { class: "inline-list" }, state.projects.map((project) => h("li", {}, h("a", { href: `#/p/${encodeURIComponent(project)}/sinks`, "data-project": project }, `Sinks of ${project}`))))
      : h("p", { class: "muted" }, "There are no projects yet."));
}
