// Export what you see: the task form, pre-filled with the search's query and range, showing the
// estimate (rows, bytes) of a dry run before anything runs; Create queues the task and opens it.

import { api, projectPath } from "./api.js";
import { modal } from "./dialogs.js";
import { debounce, formatBytes, formatCount, h, localZoneName, toast } from "./dom.js";
import { navigate, routeHash } from "./router.js";
import { sinkChoice, sinkSpec } from "./sinks.js";

function select(id, label, options, value) {
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("select", { id, name: id.replace("export-", "") }, options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text))));
}

function input(id, label, attributes = {}, hint = null) {
  return h("div", { class: "field" }, h("label", { for: id }, label), h("input", { id, ...attributes }), hint ? h("p", { class: "hint" }, hint) : null);
}

function timeZones() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return h("datalist", { id: "export-zones" }, ["UTC", ...zones].map((zone) => h("option", { value: zone })));
}

function exportForm(prefill) {
  const name = `${prefill.logstore}-export`;
  return h("form", { class: "export-form", id: "export-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "export-query" }, "Query"),
      h("textarea", { id: "export-query", rows: 2, spellcheck: "false" }, prefill.query)),
    h("div", { class: "grid two" },
      input("export-from", "From (UTC)", { value: prefill.from, spellcheck: "false" }),
      input("export-to", "To (UTC, exclusive)", { value: prefill.to, spellcheck: "false" })),
    h("div", { class: "grid three" },
      select("export-format", "Format", [["csv", "CSV"], ["jsonl", "JSON Lines"], ["parquet", "Parquet"]], "csv"),
      select("export-compression", "Compression", [["none", "none"], ["gzip", "gzip"], ["zstd", "zstd"], ["lz4", "lz4"]], "zstd"),
      select("export-order", "Order", [["asc", "Oldest first"], ["desc", "Newest first"]], prefill.order || "asc")),
    h("div", { class: "grid three" },
      input("export-limit", "Row limit", { type: "number", min: 1, step: 1, placeholder: "every row", inputmode: "numeric" }),
      input("export-timezone", "Time zone of rendered times", { value: "UTC", list: "export-zones", spellcheck: "false" }, `Yours: ${localZoneName()}`),
      input("export-name", "Task name", { value: name, spellcheck: "false", pattern: "[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]" })),
    h("fieldset", { class: "csv-options", id: "export-csv" },
      h("legend", {}, "CSV"),
      h("label", { class: "check" }, h("input", { type: "checkbox", id: "export-csv-header", checked: true }), " Header row"),
      h("label", { class: "check" }, h("input", { type: "checkbox", id: "export-csv-escape", checked: true }), " Escape formulas (= + - @) for spreadsheets"),
      h("label", { class: "inline" }, "Delimiter ", h("input", { id: "export-csv-delimiter", value: ",", maxlength: 1, size: 2 }))),
    sinkChoice(prefill.project),
    timeZones(),
    h("div", { class: "estimate", id: "export-estimate", "aria-live": "polite" }, "Estimating…"),
    h("div", { class: "notice error", id: "export-error", role: "alert", hidden: true }),
    h("div", { class: "modal-actions" },
      h("button", { type: "button", class: "button", value: "cancel", id: "export-cancel" }, "Cancel"),
      h("button", { type: "submit", class: "button primary", id: "export-create" }, "Create task")));
}

function readSpec(form, logstore) {
  const value = (id) => form.querySelector(`#${id}`).value;
  const limit = value("export-limit").trim();
  const format = value("export-format");
  const spec = {
    name: value("export-name").trim() || `${logstore}-export`,
    logstore,
    query: value("export-query").trim() || "*",
    from: value("export-from").trim(),
    to: value("export-to").trim(),
    format,
    compression: format === "parquet" ? "none" : value("export-compression"),
    order: value("export-order"),
    timezone: value("export-timezone").trim() || "UTC",
    csv: {
      header: form.querySelector("#export-csv-header").checked,
      delimiter: value("export-csv-delimiter") || ",",
      escape_formulas: form.querySelector("#export-csv-escape").checked,
    },
    ...sinkSpec(form),
  };
  if (limit) spec.limit = Number(limit);
  return spec;
}

export function openExportDialog(prefill) {
  const form = exportForm(prefill);
  const dialog = modal(`Export from ${prefill.logstore}`, form);
  const estimate = form.querySelector("#export-estimate");
  const errorBox = form.querySelector("#export-error");
  const tasksUrl = projectPath(prefill.project, "download-tasks");
  let sequence = 0;

  function showError(error) {
    const position = error.details && Number.isInteger(error.details.position) ? ` (at character ${error.details.position + 1})` : "";
    errorBox.textContent = `${error.message}${position}`;
    errorBox.hidden = false;
  }
  async function refreshEstimate() {
    const current = ++sequence;
    const format = form.querySelector("#export-format").value;
    form.querySelector("#export-compression").disabled = format === "parquet";
    form.querySelector("#export-csv").hidden = format !== "csv";
    estimate.textContent = "Estimating…";
    try {
      const { estimate: result } = await api.post(tasksUrl, readSpec(form, prefill.logstore), { dry_run: "true" });
      if (current !== sequence) return;
      errorBox.hidden = true;
      estimate.replaceChildren("Estimate: ", h("strong", { id: "estimate-rows" }, `${formatCount(result.rows)} rows`), ", about ", h("strong", { id: "estimate-bytes" }, formatBytes(result.bytes)));
    } catch (error) {
      if (current !== sequence) return;
      estimate.textContent = "No estimate.";
      showError(error);
    }
  }
  const refreshSoon = debounce(refreshEstimate, 350);
  form.addEventListener("input", refreshSoon);
  form.addEventListener("change", refreshSoon);
  form.querySelector("#export-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const create = form.querySelector("#export-create");
    create.disabled = true;
    try {
      const task = await api.post(tasksUrl, readSpec(form, prefill.logstore));
      dialog.close();
      toast(`Task ${task.name} queued`);
      navigate(routeHash(prefill.project, `tasks/${encodeURIComponent(task.id)}`));
    } catch (error) {
      showError(error);
      create.disabled = false;
    }
  });
  refreshEstimate();
  form.querySelector("#export-format").focus();
  return dialog;
}
