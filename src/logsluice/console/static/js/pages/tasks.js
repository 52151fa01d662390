// Download tasks of a project: status filters, paging, and each row kept live by the page's one
// event stream (progress, rows, bytes, rate, ETA, queue position, status).

import { api, projectPath } from "../api.js";
import { formatCount, h, replaceChildren } from "../dom.js";
import { watchTasks } from "../live.js";
import { navigate, routeHash } from "../router.js";
import { STATUSES, progressBar, progressFacts, statusBadge, taskRow, webhookState } from "../tasks-render.js";

const PAGE_SIZE = 25;
const FILTERS = [["", "All"], ["QUEUED", "Queued"], ["RUNNING,CANCELLING", "Running"], ["SUCCEEDED", "Succeeded"], ["FAILED", "Failed"], ["CANCELLED", "Cancelled"], ["EXPIRED", "Expired"]];

export async function renderTasks(main, route) {
  const { project } = route;
  const status = route.query.status || "";
  const pageNumber = Math.max(1, Number(route.query.page) || 1);
  const listing = await api.get(projectPath(project, "download-tasks"), {
    status: status || undefined, page: pageNumber, size: PAGE_SIZE,
  });
  const accepted = new Set(status ? status.split(",") : STATUSES);
  const rows = new Map();
  const body = h("tbody", {});
  const totalLabel = h("span", { id: "task-total" }, formatCount(listing.total));
  const liveState = h("span", { class: "live-state", id: "live-state" }, "connecting…");
  const empty = h("p", { class: "notice", hidden: listing.download_tasks.length > 0 }, "No download tasks here yet. Search a logstore and press Export to make one.");
  let total = listing.total;
  // The newest task the listing holds: a task created after it is new; one created before it
  // and not on this page is on a later page (already counted) or just entered the filter.
  const newestListed = listing.download_tasks.length ? Date.parse(listing.download_tasks[0].created_at) : -Infinity;
  let recount = null;

  function recountSoon() {
    // The total of a filter moves with tasks this page does not show: ask the server, at most
    // once a second, rather than guess from the changes.
    if (recount !== null) return;
    recount = setTimeout(async () => {
      recount = null;
      try {
        const counted = await api.get(projectPath(project, "download-tasks"), {
          status: status || undefined, page: 1, size: 1,
        });
        total = counted.total;
        totalLabel.textContent = formatCount(total);
      } catch {
        // the next change asks again
      }
    }, 1000);
  }
  function changed(task, taskId) {
    if (task === null) removeRow(taskId);
    else upsert(task);
  }
  function removeRow(taskId) {
    const row = rows.get(taskId);
    if (!row) return;
    row.remove();
    rows.delete(taskId);
    total = Math.max(0, total - 1);
    totalLabel.textContent = formatCount(total);
    empty.hidden = rows.size > 0;
  }
  function upsert(task) {
    const row = rows.get(task.id);
    if (!row) {
      if (!accepted.has(task.status)) return;
      if (pageNumber !== 1 || !(Date.parse(task.created_at) > newestListed)) {
        recountSoon();
        return;
      }
      const fresh = taskRow(project, task, changed);
      fresh.dataset.status = task.status;
      rows.set(task.id, fresh);
      body.prepend(fresh);
      total += 1;
      totalLabel.textContent = formatCount(total);
      empty.hidden = true;
      return;
    }
    if (row.dataset.status !== task.status) {
      if (!accepted.has(task.status)) recountSoon();
      const fresh = taskRow(project, task, changed);
      fresh.dataset.status = task.status;
      row.replaceWith(fresh);
      rows.set(task.id, fresh);
      return;
    }
    replaceChildren(row.querySelector(".task-progress"), progressBar(task), progressFacts(task), webhookState(task));
    row.children[1].replaceChildren(statusBadge(task));
  }
  for (const task of listing.download_tasks) {
    const row = taskRow(project, task, changed);
    row.dataset.status = task.status;
    rows.set(task.id, row);
    body.append(row);
  }
  const filters = h("div", { class: "filters", role: "group", "aria-label": "Filter by status" }, FILTERS.map(([value, label]) => h("a", {
    class: `chip${value === status ? " selected" : ""}`, href: routeHash(project, "tasks", { status: value }), "aria-current": value === status ? "true" : null,
  }, label)));
  const pages = Math.max(1, Math.ceil(listing.total / PAGE_SIZE));
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", class: "button small", id: "page-previous", disabled: pageNumber <= 1, onclick: () => navigate(routeHash(project, "tasks", { status, page: pageNumber - 1 })) }, "← Newer"),
    h("span", { id: "page-label" }, `Page ${pageNumber} of ${pages}`),
    h("button", { type: "button", class: "button small", id: "page-next", disabled: pageNumber >= pages, onclick: () => navigate(routeHash(project, "tasks", { status, page: pageNumber + 1 })) }, "Older →"));
  replaceChildren(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Download tasks ", h("span", { class: "muted" }, `in ${project}`)),
      h("p", { class: "muted" }, totalLabel, " tasks · ", liveState)),
    filters,
    h("div", { class: "table-scroll" }, h("table", { class: "tasks", "aria-label": "Download tasks" },
      h("thead", {}, h("tr", {}, ["Task", "Status", "Progress", "Created", "Actions"].map((name) => h("th", { scope: "col" }, name)))),
      body)),
    empty,
    pager);
  return watchTasks(project, [...rows.keys()], {
    onTask: upsert,
    onRemoved: removeRow,
    onState: (text) => { liveState.textContent = text; },
  });
}
