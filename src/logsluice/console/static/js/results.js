// The rows of a query: records (time first) with a button that expands the whole record, or the
// plain table that a "| SQL" query computes.

import { formatTimeMs, h } from "./dom.js";

function cell(value, type) {
  if (value === null || value === undefined) return h("span", { class: "null" }, "null");
  if (type === "timestamp") return formatTimeMs(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function recordDetails(columns, row) {
  return h("dl", { class: "record" }, columns.map((column, index) => h("div", {},
    h("dt", {}, column.name),
    h("dd", {}, row[index] === null ? h("span", { class: "null" }, "null") : typeof row[index] === "object" ? JSON.stringify(row[index]) : String(row[index])))));
}

export function resultsTable(result, timeField) {
  const { columns, rows } = result;
  if (!rows.length) return h("p", { class: "notice" }, "No rows in this time range.");
  const isRecords = columns.length > 0 && columns[0].type === "timestamp" && columns[0].name === timeField;
  const head = h("tr", {}, isRecords ? h("th", { class: "expander" }, h("span", { class: "visually-hidden" }, "Expand")) : null,
    columns.map((column) => h("th", { scope: "col", title: column.type }, column.name)));
  const body = h("tbody", {});
  rows.forEach((row, rowIndex) => {
    const cells = columns.map((column, index) => h("td", { class: column.type === "varchar" ? "text" : column.type }, cell(row[index], column.type)));
    if (!isRecords) {
      body.append(h("tr", {}, cells));
      return;
    }
    const detailsRow = h("tr", { class: "details", hidden: true }, h("td", { colspan: columns.length + 1 }, recordDetails(columns, row)));
    const toggle = h("button", { type: "button", class: "expand", "aria-expanded": "false", "aria-label": `Show record ${rowIndex + 1}` }, "▸");
    toggle.addEventListener("click", () => {
      const open = detailsRow.hidden;
      detailsRow.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = open ? "▾" : "▸";
    });
    body.append(h("tr", { class: "record-row" }, h("td", { class: "expander" }, toggle), cells), detailsRow);
  });
  return h("div", { class: "table-scroll" },
    h("table", { class: `results ${isRecords ? "records" : "sql"}`, "aria-label": isRecords ? "Matching records" : "Query result" }, h("thead", {}, head), body));
}
