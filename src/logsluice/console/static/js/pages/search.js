// Search: a logstore, a query (with field-name completion and the syntax help), a time range;
// the answer is a histogram (click or drag to zoom), the rows (expandable records, or the table of
// a "| SQL" query) and, for a query that does not parse, the error at its position.

import { ApiError, api, projectPath } from "../api.js";
import { attachCompletion } from "../completion.js";
import { formatCount, h, replaceChildren } from "../dom.js";
import { openExportDialog } from "../export.js";
import { renderHistogram } from "../histogram.js";
import { rememberInUrl, routeHash } from "../router.js";
import { syntaxHelp } from "../syntax-help.js";
import { resultsTable } from "../results.js";
import { createTimeRangePicker, resolveRange } from "../timerange.js";

const LIMITS = [50, 100, 500, 1000];

export async function renderSearch(main, route) {
  const { project, query } = route;
  const { logstores } = await api.get(projectPath(project, "logstores"));
  if (!logstores.length) {
    replaceChildren(main, h("h1", {}, "Search"), h("div", { class: "notice" }, `Project ${project} has no logstores yet.`));
    return;
  }
  const page = new SearchPage(main, project, logstores, query);
  await page.start();
}

class SearchPage {
  constructor(main, project, logstores, query) {
    this.main = main;
    this.project = project;
    this.logstore = logstores.some((item) => item.name === query.logstore) ? query.logstore : logstores[0].name;
    this.logstores = logstores;
    this.fields = [];
    this.lastResult = null;
    this.initial = query;
    this.sequence = 0;
  }

  async start() {
    this.build();
    await this.loadFields();
    if (this.initial.q !== undefined || this.initial.logstore) await this.search();
    else this.queryBox.focus();
  }

  build() {
    const initialRange = { key: this.initial.range || "15m", from: this.initial.from, to: this.initial.to };
    this.picker = createTimeRangePicker(initialRange, () => this.search());
    this.logstoreSelect = h("select", { id: "logstore-select", "aria-label": "Logstore" },
      this.logstores.map((item) => h("option", { value: item.name, selected: item.name === this.logstore }, item.name)));
    this.logstoreSelect.addEventListener("change", async () => {
      this.logstore = this.logstoreSelect.value;
      await this.loadFields();
      this.search();
    });
    this.queryBox = h("textarea", {
      id: "query", name: "query", rows: 1, spellcheck: "false", autocomplete: "off",
      placeholder: 'level:ERROR AND "timeout"   ·   status>=500 | select host, count(*) as n group by host',
    }, this.initial.q ?? "");
    const completion = attachCompletion(this.queryBox, "query-fields", () => this.fields, () => this.search());
    this.limitSelect = h("select", { id: "limit-select", "aria-label": "Rows to show" },
      LIMITS.map((limit) => h("option", { value: limit, selected: limit === Number(this.initial.limit || 100) }, `${limit} rows`)));
    this.orderSelect = h("select", { id: "order-select", "aria-label": "Order" },
      h("option", { value: "desc", selected: this.initial.order !== "asc" }, "Newest first"),
      h("option", { value: "asc", selected: this.initial.order === "asc" }, "Oldest first"));
    this.searchButton = h("button", { type: "submit", class: "button primary", id: "search-button" }, "Search");
    this.exportButton = h("button", { type: "button", class: "button", id: "export-button", disabled: true, onclick: () => this.openExport() }, "Export…");
    const form = h("form", { class: "search-form", role: "search", "aria-label": "Search records" },
      h("div", { class: "query-row" },
        h("label", { for: "query", class: "visually-hidden" }, "Query"),
        h("div", { class: "query-box" }, this.queryBox, completion)),
      h("div", { class: "controls-row" },
        this.logstoreSelect, this.picker.element, this.limitSelect, this.orderSelect,
        h("div", { class: "buttons" }, this.searchButton, this.exportButton)));
    form.addEventListener("submit", (event) => { event.preventDefault(); this.search(); });
    this.errorBox = h("div", { id: "query-error", class: "query-error", role: "alert", hidden: true });
    this.summary = h("p", { class: "summary", id: "search-summary", "aria-live": "polite" });
    this.histogramBox = h("div", { id: "histogram" });
    this.resultsBox = h("div", { id: "results" });
    replaceChildren(this.main,
      h("div", { class: "page-head" }, h("h1", {}, "Search ", h("span", { class: "muted" }, `in ${this.project}`))),
      form, syntaxHelp(), this.errorBox, this.summary, this.histogramBox, this.resultsBox);
  }

  async loadFields() {
    const details = await api.get(projectPath(this.project, "logstores", this.logstore));
    this.timeField = details.time_field;
    this.fields = details.fields.map((field) => field.name);
  }

  remember(range) {
    const query = { logstore: this.logstore, q: this.queryBox.value, range: range.key };
    if (range.key === "absolute") Object.assign(query, { from: range.from, to: range.to });
    if (this.limitSelect.value !== "100") query.limit = this.limitSelect.value;
    if (this.orderSelect.value !== "desc") query.order = this.orderSelect.value;
    rememberInUrl(routeHash(this.project, "search", query));
  }

  async search() {
    const range = this.picker.value();
    if (range.key === "absolute" && (!range.from || !range.to)) {
      this.showError(new ApiError(400, "invalid_time_range", "Enter both ends of the absolute range.", {}));
      return;
    }
    const { from, to } = resolveRange(range);
    this.remember(range);
    const sequence = ++this.sequence;
    this.searchButton.disabled = true;
    this.summary.textContent = "Searching…";
    try {
      const result = await api.post(projectPath(this.project, "logstores", this.logstore, "query"), {
        query: this.queryBox.value.trim() || "*",
        from: from.toISOString(),
        to: to.toISOString(),
        limit: Number(this.limitSelect.value),
        order: this.orderSelect.value,
      });
      if (sequence === this.sequence) this.show(result);
    } catch (error) {
      if (sequence === this.sequence) this.showError(error);
    } finally {
      if (sequence === this.sequence) this.searchButton.disabled = false;
    }
  }

  show(result) {
    this.lastResult = { ...result, query: this.queryBox.value.trim() || "*", logstore: this.logstore };
    this.errorBox.hidden = true;
    this.queryBox.removeAttribute("aria-invalid");
    this.exportButton.disabled = false;
    const shown = result.rows.length;
    this.summary.replaceChildren(
      h("strong", { id: "match-count" }, formatCount(result.count)), ` ${result.count === 1 ? "row" : "rows"}`,
      shown < result.count ? ` · showing the ${this.orderSelect.value === "desc" ? "newest" : "oldest"} ${formatCount(shown)}` : "",
      ` · ${result.elapsed_ms.toFixed(0)} ms`);
    replaceChildren(this.histogramBox, renderHistogram(result, (from, to) => {
      this.picker.setAbsolute(from, to);
      this.search();
    }));
    replaceChildren(this.resultsBox, resultsTable(result, this.timeField));
  }

  showError(error) {
    this.exportButton.disabled = true;
    this.summary.textContent = "";
    replaceChildren(this.histogramBox);
    replaceChildren(this.resultsBox);
    const position = error.details && Number.isInteger(error.details.position) ? error.details.position : null;
    const text = this.queryBox.value;
    const parts = [h("p", {}, h("strong", {}, error.code === "invalid_query" ? "The query has a problem: " : "The search failed: "), error.message)];
    if (position !== null) {
      parts.push(h("pre", { class: "caret", "aria-label": `at character ${position + 1}` },
        text, "\n", " ".repeat(Math.min(position, text.length)), h("span", { class: "caret-mark" }, "^")));
      this.queryBox.setAttribute("aria-invalid", "true");
      this.queryBox.focus();
      this.queryBox.setSelectionRange(Math.min(position, text.length), Math.min(position + 1, text.length));
    }
    replaceChildren(this.errorBox, parts);
    this.errorBox.hidden = false;
  }

  openExport() {
    if (!this.lastResult) return;
    openExportDialog({
      project: this.project,
      logstore: this.lastResult.logstore,
      query: this.lastResult.query,
      from: this.lastResult.from,
      to: this.lastResult.to,
      order: this.orderSelect.value === "desc" ? "desc" : "asc",
    });
  }
}
