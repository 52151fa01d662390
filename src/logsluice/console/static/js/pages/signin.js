// Sign-in: the admin token, an access key as <id>:<secret>, or an access key's two halves.
// The server answers with an HttpOnly session cookie and the session's CSRF token.

import { api, setCsrfToken } from "../api.js";
import { h, replaceChildren } from "../dom.js";

export function renderSignIn(main, onSignedIn) {
  const error = h("div", { class: "notice error", role: "alert", hidden: true });
  const tokenField = h("input", { id: "signin-token", name: "token", type: "password", autocomplete: "current-password", required: true });
  const keyIdField = h("input", { id: "signin-key-id", name: "access_key_id", autocomplete: "username", spellcheck: "false" });
  const keySecretField = h("input", { id: "signin-key-secret", name: "access_key_secret", type: "password", autocomplete: "current-password" });
  const tokenPanel = h("div", { class: "field" },
    h("label", { for: "signin-token" }, "Token"),
    tokenField,
    h("p", { class: "hint" }, "The admin token (", h("code", {}, "<data dir>/admin-token"), ") or an access key written ", h("code", {}, "<id>:<secret>"), "."));
  const keyPanel = h("div", { hidden: true },
    h("div", { class: "field" }, h("label", { for: "signin-key-id" }, "Access key id"), keyIdField),
    h("div", { class: "field" }, h("label", { for: "signin-key-secret" }, "Access key secret"), keySecretField));
  const useKey = h("input", { type: "checkbox", id: "signin-use-key" });
  useKey.addEventListener("change", () => {
    tokenPanel.hidden = useKey.checked;
    keyPanel.hidden = !useKey.checked;
    tokenField.required = !useKey.checked;
    keyIdField.required = keySecretField.required = useKey.checked;
    (useKey.checked ? keyIdField : tokenField).focus();
  });
  const submit = h("button", { type: "submit", class: "button primary" }, "Sign in");
  const form = h("form", { class: "signin card", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to logsluice"),
    error,
    tokenPanel,
    keyPanel,
    h("label", { class: "check" }, useKey, " Sign in with an access key id and secret"),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    const body = useKey.checked
      ? { access_key_id: keyIdField.value.trim(), access_key_secret: keySecretField.value.trim() }
      : { token: tokenField.value.trim() };
    try {
      const session = await api.post("/api/v1/session", body);
      setCsrfToken(session.csrf_token);
      await onSignedIn();
    } catch (failure) {
      error.textContent = failure.status === 401 ? "Those credentials were not accepted." : failure.message;
      error.hidden = false;
      submit.disabled = false;
      (useKey.checked ? keySecretField : tokenField).select();
    }
  });
  replaceChildren(main, h("div", { class: "signin-page" }, form,
    h("p", { class: "hint center" }, "Your session lasts until you sign out or it expires. The console uses the same API as the ", h("code", {}, "logsluice"), " command.")));
  tokenField.focus();
}
