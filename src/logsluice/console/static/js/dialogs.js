// Small modal dialogs built on <dialog>: a confirmation, and a generic container.

import { h } from "./dom.js";

export function modal(title, ...content) {
  const dialog = h("dialog", { class: "modal", "aria-labelledby": "modal-title" },
    h("div", { class: "modal-head" },
      h("h2", { id: "modal-title" }, title),
      h("button", { type: "button", class: "close", "aria-label": "Close", onclick: () => dialog.close() }, "×")),
    ...content);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

export function confirmAction(title, message, actionLabel) {
  return new Promise((resolve) => {
    let confirmed = false;
    const confirm = h("button", { type: "button", class: "button danger", id: "confirm-action" }, actionLabel);
    const cancel = h("button", { type: "button", class: "button" }, "Keep");
    const dialog = modal(title, h("p", {}, message), h("div", { class: "modal-actions" }, cancel, confirm));
    confirm.addEventListener("click", () => { confirmed = true; dialog.close(); });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => resolve(confirmed));
    cancel.focus();
  });
}
