// Where a task's file goes. Today: logsluice's own artifact store (download from the console or a
// link). Sinks — buckets an administrator registers per project — plug in here: the export form
// asks sinkChoice() for its "Destination" fieldset and sinkSpec() for the fields to send, and the
// admin page asks sinkAdminSection() for its "Sinks" section. Nothing else knows about sinks.

import { h } from "./dom.js";

export function sinkChoice() {
  return h("fieldset", { class: "sink-choice", id: "sink-choice" },
    h("legend", {}, "Destination"),
    h("label", { class: "check" },
      h("input", { type: "radio", name: "sink", value: "", checked: true }),
      " logsluice (download from the console or a signed link)"),
    h("p", { class: "hint" }, "Registered buckets (sinks) will be offered here when the server has them."));
}

export function sinkSpec() {
  return {};
}

export function sinkAdminSection() {
  return h("section", { class: "card", id: "sinks-admin", "aria-labelledby": "sinks-title" },
    h("h2", { id: "sinks-title" }, "Sinks"),
    h("p", { class: "muted" }, "Sinks are buckets an administrator registers for a project, where tasks that name them write their file. This server has none yet; they will be managed here."));
}
