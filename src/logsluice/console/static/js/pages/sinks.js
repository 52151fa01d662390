// A project's sinks (the unscoped admin only, as the API rules): the list — name, endpoint,
// bucket, prefix, region, access key id — an add form whose secret goes to the server once and is
// never shown back, and remove with a confirmation. Anyone else gets the API's own refusal.

import { ApiError, api, projectPath } from "../api.js";
import { confirmAction } from "../dialogs.js";
import { formatTime, h, replaceChildren, toast } from "../dom.js";
import { routeHash } from "../router.js";
import { listSinks } from "../sinks.js";

const FIELDS = [
  // id suffix, label, attributes, hint
  ["name", "Name", { required: true, pattern: "[a-z0-9][a-z0-9_-]*[a-z0-9]", maxlength: 64, placeholder: "oss-main" }, "What tasks name it by: 2–64 of a-z 0-9 _ -"],
  ["endpoint", "Endpoint", { required: true, type: "url", placeholder: "https://s3.example.com" }, "The S3-compatible server's URL (http or https)"],
  ["bucket", "Bucket", { required: true, placeholder: "log-exports" }, "An existing bucket"],
  ["prefix", "Prefix", { placeholder: "exports/logs" }, "Optional: the files go under it"],
  ["region", "Region", { placeholder: "us-east-1" }, "Optional: the signing region (default us-east-1)"],
  ["access_key_id", "Access key id", { required: true }, null],
  ["secret_access_key", "Secret access key", { required: true, type: "password", autocomplete: "new-password" }, "Stored encrypted; never shown again, not even here"],
];

// The form field a refusal is about: the service's details.field, the first "body.<field>" of a
// request the schema refused, or the name for an invalid_name.
function refusedField(error) {
  const details = error.details || {};
  if (typeof details.field === "string") return details.field;
  const first = Array.isArray(details.errors) && details.errors.length ? String(details.errors[0].location || "") : "";
  if (first.startsWith("body.")) return first.slice("body.".length).split(".")[0];
  return error.code === "invalid_name" ? "name" : null;
}

function addForm(project, onAdded) {
  const errorBox = h("div", { class: "notice error", id: "sink-error", role: "alert", hidden: true });
  const inputs = Object.fromEntries(FIELDS.map(([key, , attributes]) => [key, h("input", { id: `sink-${key.replaceAll("_", "-")}`, name: key, spellcheck: "false", autocomplete: "off", ...attributes })]));
  const fields = FIELDS.map(([key, label, , hint]) => h("div", { class: "field" },
    h("label", { for: inputs[key].id }, label, inputs[key].required ? null : h("span", { class: "muted" }, " (optional)")),
    inputs[key],
    hint ? h("p", { class: "hint" }, hint) : null));
  const addressing = h("select", { id: "sink-addressing-style", name: "addressing_style" },
    h("option", { value: "path" }, "path (https://host/bucket/key)"),
    h("option", { value: "virtual" }, "virtual-hosted (https://bucket.host/key; Alibaba OSS)"));
  fields.splice(5, 0, h("div", { class: "field" }, h("label", { for: "sink-addressing-style" }, "Addressing"), addressing,
    h("p", { class: "hint" }, "How requests name the bucket")));
  inputs.addressing_style = addressing;
  const submit = h("button", { type: "submit", class: "button primary", id: "sink-add" }, "Add sink");
  const form = h("form", { class: "sink-form", id: "sink-form", "aria-labelledby": "sink-add-title", novalidate: true },
    h("h2", { id: "sink-add-title" }, "Add a sink"),
    h("div", { class: "grid two" }, fields),
    errorBox,
    h("div", { class: "form-actions" }, submit));

  function fail(message, field) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    for (const input of Object.values(inputs)) input.removeAttribute("aria-invalid");
    const input = field && inputs[field];
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const missing = FIELDS.find(([key]) => inputs[key].required && !inputs[key].value.trim());
    if (missing) {
      fail(`${missing[1]} is required.`, missing[0]);
      return;
    }
    const body = Object.fromEntries(FIELDS.map(([key]) => [key, key === "secret_access_key" ? inputs[key].value : inputs[key].value.trim()]));
    body.addressing_style = addressing.value;
    submit.disabled = true;
    try {
      const sink = await api.post(projectPath(project, "sinks"), body);
      form.reset();
      errorBox.hidden = true;
      for (const input of Object.values(inputs)) input.removeAttribute("aria-invalid");
      toast(`Sink ${sink.name} added`);
      await onAdded(sink);
    } catch (error) {
      inputs.secret_access_key.value = ""; // never left in the page after it was sent
      fail(`${error.message}${error.code ? ` (${error.code})` : ""}`, refusedField(error));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function sinksTable(project, sinks, onRemove) {
  const rows = sinks.map((sink) => h("tr", { "data-sink": sink.name },
    h("td", { class: "mono" }, sink.name),
    h("td", { class: "mono small" }, sink.endpoint),
    h("td", { class: "mono" }, sink.bucket),
    h("td", { class: "mono" }, sink.prefix || "—"),
    h("td", {}, sink.region),
    h("td", {}, sink.addressing_style),
    h("td", { class: "mono small" }, sink.access_key_id),
    h("td", { class: "small" }, formatTime(sink.created_at)),
    h("td", {}, h("button", { type: "button", class: "button small danger-quiet", "data-action": "remove-sink", "aria-label": `Remove sink ${sink.name}`, onclick: () => onRemove(sink) }, "Remove"))));
  return h("table", { class: "keys sinks", "aria-label": `Sinks of ${project}` },
    h("thead", {}, h("tr", {}, ["Name", "Endpoint", "Bucket", "Prefix", "Region", "Addressing", "Access key id", "Created", ""].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 9, class: "muted", id: "no-sinks" }, "No sinks yet: this project's tasks write their files to logsluice's own store."))));
}

function refused(main, project, error) {
  replaceChildren(main,
    h("div", { class: "page-head" }, h("h1", {}, "Sinks ", h("span", { class: "muted" }, `of ${project}`))),
    h("div", { class: "notice error", id: "sinks-refused", role: "alert" }, h("strong", {}, `${error.code}: `), error.message));
}

export async function renderSinks(main, route) {
  const { project } = route;
  let sinks;
  try {
    sinks = await listSinks(project);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 401) throw error;
    refused(main, project, error);
    return;
  }
  const tableBox = h("div", { class: "table-scroll", id: "sinks-table" });
  async function refresh() {
    sinks = await listSinks(project);
    replaceChildren(tableBox, sinksTable(project, sinks, remove));
  }
  async function remove(sink) {
    const message = `Tasks still to run into ${sink.name} will fail with sink_not_found; files already written stay in ${sink.bucket}.`;
    if (!(await confirmAction(`Remove the sink ${sink.name}?`, message, "Remove"))) return;
    try {
      await api.delete(projectPath(project, "sinks", sink.name));
      toast(`Sink ${sink.name} removed`);
    } catch (error) {
      toast(`Remove: ${error.message}`, "error");
    }
    await refresh();
    const next = tableBox.querySelector("[data-action=remove-sink]") || document.getElementById("sink-name");
    if (next) next.focus();
  }
  replaceChildren(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Sinks ", h("span", { class: "muted" }, `of ${project}`)),
      h("a", { class: "button", href: routeHash(project, "tasks") }, "Download tasks")),
    h("p", { class: "muted" }, "Buckets on S3-compatible servers where this project's tasks may write their files: a task names one (the console's export form, the API's ", h("code", {}, "sink"), ", SLS ", h("code", {}, "sink.bucket"), ", BLS ", h("code", {}, "fileDir"), ") and its file and manifest.json land under the sink's prefix, at ", h("code", {}, "<prefix>/<project>/<task id>/<file>"), ". The bucket is tried with the key when you add a sink. Downloads are presigned links to the bucket."),
    h("section", { class: "card", "aria-labelledby": "sinks-list-title" },
      h("h2", { id: "sinks-list-title" }, "Registered"),
      tableBox),
    h("section", { class: "card" }, addForm(project, refresh)));
  replaceChildren(tableBox, sinksTable(project, sinks, remove));
}
