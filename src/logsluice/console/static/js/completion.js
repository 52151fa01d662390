// Field-name completion in the query box: while a word is typed, the logstore's fields that start
// with it are offered below the box (ArrowUp/ArrowDown to move, Tab or Enter to take one, Escape to
// close). Enter without an open list runs the search; Shift+Enter starts a new line.

import { h, replaceChildren } from "./dom.js";

const WORD_BEFORE_CARET = /[A-Za-z_@][\w.@-]*$/;

export function attachCompletion(textarea, listId, getFields, onSubmit) {
  const list = h("ul", { id: listId, class: "completion", role: "listbox", hidden: true, "aria-label": "Field names" });
  let options = [];
  let active = -1;
  textarea.setAttribute("role", "combobox");
  textarea.setAttribute("aria-autocomplete", "list");
  textarea.setAttribute("aria-controls", listId);
  textarea.setAttribute("aria-expanded", "false");

  function close() {
    list.hidden = true;
    options = [];
    active = -1;
    textarea.setAttribute("aria-expanded", "false");
    textarea.removeAttribute("aria-activedescendant");
  }
  function currentWord() {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const inQuotes = (before.match(/"/g) || []).length % 2 === 1;
    const match = before.match(WORD_BEFORE_CARET);
    return !inQuotes && match ? match[0] : null;
  }
  function highlight(index) {
    active = index;
    [...list.children].forEach((item, position) => item.setAttribute("aria-selected", String(position === index)));
    if (index >= 0) textarea.setAttribute("aria-activedescendant", `${listId}-${index}`);
  }
  function accept(index) {
    const word = currentWord();
    const field = options[index];
    if (!word || !field) return;
    const caret = textarea.selectionStart;
    const start = caret - word.length;
    textarea.value = `${textarea.value.slice(0, start)}${field}:${textarea.value.slice(caret)}`;
    textarea.selectionStart = textarea.selectionEnd = start + field.length + 1;
    close();
    textarea.focus();
  }
  function update() {
    const word = currentWord();
    const lowered = word ? word.toLowerCase() : "";
    options = word ? getFields().filter((name) => name.toLowerCase().startsWith(lowered) && name.toLowerCase() !== lowered).slice(0, 8) : [];
    if (!options.length) {
      close();
      return;
    }
    replaceChildren(list, options.map((name, index) => h("li", {
      id: `${listId}-${index}`, role: "option", "aria-selected": "false",
      onmousedown: (event) => { event.preventDefault(); accept(index); },
    }, name)));
    list.hidden = false;
    textarea.setAttribute("aria-expanded", "true");
    highlight(0);
  }
  textarea.addEventListener("input", update);
  textarea.addEventListener("blur", () => setTimeout(close, 100));
  textarea.addEventListener("keydown", (event) => {
    const open = !list.hidden && options.length > 0;
    if (open && event.key === "ArrowDown") {
      event.preventDefault();
      highlight((active + 1) % options.length);
    } else if (open && event.key === "ArrowUp") {
      event.preventDefault();
      highlight((active - 1 + options.length) % options.length);
    } else if (open && (event.key === "Tab" || event.key === "Enter")) {
      event.preventDefault();
      accept(Math.max(active, 0));
    } else if (open && event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      onSubmit();
    }
  });
  return list;
}
