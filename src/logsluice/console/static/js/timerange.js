// The time-range picker: relative ranges (resolved when the search runs) or absolute ones
// (entered in the browser's time zone, sent as UTC).

import { h } from "./dom.js";

export const RELATIVE_RANGES = [
  { key: "15m", label: "Last 15 minutes", seconds: 15 * 60 },
  { key: "1h", label: "Last hour", seconds: 3600 },
  { key: "24h", label: "Last 24 hours", seconds: 24 * 3600 },
  { key: "7d", label: "Last 7 days", seconds: 7 * 24 * 3600 },
];

function pad(value) {
  return String(value).padStart(2, "0");
}

// A Date as the value of a datetime-local input (local time, seconds kept).
export function toLocalInput(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function fromLocalInput(text) {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

// The range a picker state stands for, now: {from: Date, to: Date}.
export function resolveRange(range) {
  const relative = RELATIVE_RANGES.find((item) => item.key === range.key);
  if (relative) {
    const to = new Date();
    return { from: new Date(to.getTime() - relative.seconds * 1000), to };
  }
  return { from: new Date(range.from), to: new Date(range.to) };
}

export function createTimeRangePicker(initial, onChange) {
  const select = h("select", { id: "range-select", "aria-label": "Time range" },
    RELATIVE_RANGES.map((item) => h("option", { value: item.key, selected: item.key === initial.key }, item.label)),
    h("option", { value: "absolute", selected: initial.key === "absolute" }, "Absolute range…"));
  const fromInput = h("input", { type: "datetime-local", step: "1", id: "range-from", "aria-label": "From (your time zone)" });
  const toInput = h("input", { type: "datetime-local", step: "1", id: "range-to", "aria-label": "To (your time zone)" });
  const absolute = h("div", { class: "absolute-range" },
    h("label", { for: "range-from" }, "From"), fromInput,
    h("label", { for: "range-to" }, "to"), toInput);

  function setAbsolute(from, to) {
    fromInput.value = toLocalInput(from);
    toInput.value = toLocalInput(to);
  }
  function sync() {
    absolute.hidden = select.value !== "absolute";
  }
  const picker = {
    element: h("div", { class: "range-picker" }, select, absolute),
    value() {
      if (select.value !== "absolute") return { key: select.value };
      const from = fromLocalInput(fromInput.value);
      const to = fromLocalInput(toInput.value);
      return { key: "absolute", from: from && from.toISOString(), to: to && to.toISOString() };
    },
    setAbsolute(from, to) {
      select.value = "absolute";
      setAbsolute(from, to);
      sync();
    },
  };
  if (initial.key === "absolute" && initial.from && initial.to) {
    setAbsolute(new Date(initial.from), new Date(initial.to));
  } else {
    const { from, to } = resolveRange({ key: initial.key || "15m" });
    setAbsolute(from, to);
  }
  select.addEventListener("change", () => {
    if (select.value === "absolute") {
      sync();
      fromInput.focus();
      return;
    }
    sync();
    onChange();
  });
  for (const input of [fromInput, toInput]) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        onChange();
      }
    });
  }
  sync();
  return picker;
}
