// Administration (the unscoped admin only): access keys — create (the secret is shown once),
// list, revoke — and the way to each project's Sinks page.

import { api } from "../api.js";
import { confirmAction, modal } from "../dialogs.js";
import { formatTime, h, replaceChildren, toast } from "../dom.js";
import { sinkAdminSection } from "../sinks.js";
import { state } from "../state.js";

function showSecretOnce(created) {
  const secret = h("input", { id: "new-key-secret", readonly: true, value: created.access_key_secret, class: "mono wide", "aria-label": "Secret" });
  const copy = h("button", { type: "button", class: "button", onclick: async () => {
    try {
      await navigator.clipboard.writeText(`${created.access_key_id}:${created.access_key_secret}`);
      toast("Copied as id:secret");
    } catch {
      secret.select();
    }
  } }, "Copy id:secret");
  const dialog = modal("Access key created",
    h("p", {}, "Copy the secret now: it is shown only this once and cannot be retrieved later."),
    h("div", { class: "field" }, h("label", {}, "Access key id"), h("input", { id: "new-key-id", readonly: true, value: created.access_key_id, class: "mono wide" })),
    h("div", { class: "field" }, h("label", { for: "new-key-secret" }, "Secret"), secret),
    h("div", { class: "modal-actions" }, copy, h("button", { type: "button", class: "button primary", onclick: () => dialog.close() }, "Done")));
  secret.select();
}

function createForm(onCreated) {
  const project = h("select", { id: "key-project", name: "project" }, state.projects.map((name) => h("option", { value: name }, name)));
  const role = h("select", { id: "key-role", name: "role" },
    h("option", { value: "reader" }, "reader — search, list, download"),
    h("option", { value: "writer" }, "writer — also ingest and create tasks"),
    h("option", { value: "admin" }, "admin — every project"));
  const description = h("input", { id: "key-description", name: "description", maxlength: 1024, placeholder: "what uses it" });
  role.addEventListener("change", () => { project.disabled = role.value === "admin"; });
  const form = h("form", { class: "key-form", id: "key-form" },
    h("div", { class: "field" }, h("label", { for: "key-project" }, "Project"), project),
    h("div", { class: "field" }, h("label", { for: "key-role" }, "Role"), role),
    h("div", { class: "field grow" }, h("label", { for: "key-description" }, "Description"), description),
    h("button", { type: "submit", class: "button primary", id: "key-create" }, "Create key"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = { role: role.value, description: description.value };
      if (role.value !== "admin") body.project = project.value;
      const created = await api.post("/api/v1/access-keys", body);
      description.value = "";
      showSecretOnce(created);
      onCreated();
    } catch (error) {
      toast(error.message, "error");
    }
  });
  return form;
}

export async function renderAdmin(main) {
  if (!(state.session.role === "admin" && !state.session.project)) {
    replaceChildren(main, h("div", { class: "notice error" }, "Only the administrator manages access keys."));
    return;
  }
  const includeRevoked = h("input", { type: "checkbox", id: "include-revoked" });
  const tableBox = h("div", { class: "table-scroll" });
  async function refresh() {
    const { access_keys: keys } = await api.get("/api/v1/access-keys", { include_revoked: includeRevoked.checked ? "true" : undefined });
    replaceChildren(tableBox, h("table", { class: "keys", "aria-label": "Access keys" },
      h("thead", {}, h("tr", {}, ["Access key id", "Project", "Role", "Description", "Created", "Revoked", ""].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, keys.length ? keys.map((key) => h("tr", { "data-key-id": key.access_key_id },
        h("td", { class: "mono" }, key.access_key_id),
        h("td", {}, key.project || "every project"),
        h("td", {}, key.role),
        h("td", {}, key.description),
        h("td", { class: "small" }, formatTime(key.created_at)),
        h("td", { class: "small" }, formatTime(key.revoked_at)),
        h("td", {}, key.revoked_at ? null : h("button", { type: "button", class: "button small danger-quiet", "data-action": "revoke", onclick: async () => {
          if (!(await confirmAction("Revoke this key?", `${key.access_key_id} stops working at once, also for the consoles signed in with it.`, "Revoke"))) return;
          await api.delete(`/api/v1/access-keys/${encodeURIComponent(key.access_key_id)}`);
          toast(`${key.access_key_id} revoked`);
          refresh();
        } }, "Revoke")))) : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No access keys.")))));
  }
  includeRevoked.addEventListener("change", refresh);
  replaceChildren(main,
    h("div", { class: "page-head" }, h("h1", {}, "Administration")),
    h("section", { class: "card", "aria-labelledby": "keys-title" },
      h("h2", { id: "keys-title" }, "Access keys"),
      h("p", { class: "muted" }, "An access key signs the vendor SDKs' requests and is a project-scoped bearer token (", h("code", {}, "id:secret"), "); it can also sign in here."),
      createForm(refresh),
      h("label", { class: "check" }, includeRevoked, " Show revoked keys"),
      tableBox),
    sinkAdminSection());
  await refresh();
}
