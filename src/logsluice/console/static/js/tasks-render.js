// How a download task looks, in one place: its status, progress (percent, rows, bytes, rate,
// ETA, queue position), notices and actions. The list and the task page both render through
// here, its webhook's delivery state too (webhookState()).

import { api, projectPath } from "./api.js";
import { confirmAction } from "./dialogs.js";
import { formatBytes, formatCount, formatDuration, formatRate, formatTime, h, toast } from "./dom.js";
import { canWrite } from "./state.js";

export const STATUSES = ["QUEUED", "RUNNING", "CANCELLING", "SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"];
const ACTIVE = new Set(["QUEUED", "RUNNING", "CANCELLING"]);

export function statusBadge(task) {
  return h("span", { class: `status status-${task.status.toLowerCase()}`, "data-status": task.status }, task.status);
}

export function progressBar(task) {
  const percent = Math.max(0, Math.min(100, task.progress));
  return h("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": percent, "aria-label": `${task.name} progress` },
    h("div", { class: `bar status-${task.status.toLowerCase()}`, style: { width: `${percent}%` } }),
    h("span", { class: "percent" }, `${percent.toFixed(percent >= 100 || percent === 0 ? 0 : 1)} %`));
}

export function progressFacts(task) {
  if (task.status === "QUEUED") {
    return h("span", { class: "facts-line" }, task.queue_position ? `#${task.queue_position} in the queue` : "queued");
  }
  const parts = [`${formatCount(task.rows_written)} rows`, formatBytes(task.bytes_written)];
  if (ACTIVE.has(task.status)) {
    parts.push(formatRate(task.rows_per_second));
    parts.push(task.eta_seconds === null ? "ETA —" : `ETA ${formatDuration(task.eta_seconds)}`);
  } else if (task.duration_seconds !== null) {
    parts.push(`in ${formatDuration(task.duration_seconds)}`);
  }
  return h("span", { class: "facts-line" }, parts.join(" · "));
}

export function notices(task) {
  const items = [];
  if (task.error) items.push(h("div", { class: "notice error" }, h("strong", {}, `${task.error.code}: `), task.error.message));
  if (task.truncated) items.push(h("div", { class: "notice warn" }, "Truncated: the row limit cut rows off."));
  if (task.incomplete) {
    items.push(h("div", { class: "notice warn" }, "Incomplete: some slices failed and were skipped. Missing ",
      task.missing_ranges.map((range) => `${formatTime(range.from)} → ${formatTime(range.to)}`).join(", "), "."));
  }
  return items;
}

const WEBHOOK_LABELS = {
  waiting: "Webhook: sent when the task ends",
  pending: "Webhook: about to be sent",
  retrying: "Webhook: retrying",
  delivered: "Webhook: delivered",
  failed: "Webhook: failed",
};

// The state of the task's webhook from task.webhook (null when the task has none): the latest
// delivery's outcome, its attempts, the receiver's last answer and when the next attempt is due.
export function webhookState(task) {
  const webhook = task && task.webhook;
  if (!webhook || webhook.state === "none") return null;
  const latest = webhook.deliveries.length ? webhook.deliveries[webhook.deliveries.length - 1] : null;
  const details = [];
  if (latest) {
    details.push(`${latest.attempts} attempt${latest.attempts === 1 ? "" : "s"}`);
    if (latest.last_status_code !== null) details.push(`last answer ${latest.last_status_code}`);
    if (latest.delivered_at) details.push(`at ${formatTime(latest.delivered_at)}`);
    if (latest.next_attempt_at) details.push(`next ${formatTime(latest.next_attempt_at)}`);
  }
  const where = webhook.url ? `${webhook.url}${webhook.source === "project" ? " (project default)" : ""}` : "";
  return h("div", { class: `webhook webhook-${webhook.state} small`, "data-webhook-state": webhook.state, title: where },
    h("span", { class: "webhook-label" }, WEBHOOK_LABELS[webhook.state] || `Webhook: ${webhook.state}`),
    details.length ? h("span", { class: "muted" }, ` · ${details.join(" · ")}`) : null,
    latest && latest.last_error && latest.status !== "delivered" ? h("div", { class: "webhook-error" }, latest.last_error) : null);
}

async function openLink(project, task) {
  const link = await api.get(projectPath(project, "download-tasks", task.id, "link"));
  return link.url;
}

async function copyLink(project, task) {
  const url = await openLink(project, task);
  try {
    await navigator.clipboard.writeText(url);
    toast("Link copied; it works for an hour.");
  } catch {
    window.prompt("Copy the download link:", url);
  }
}

async function download(project, task) {
  const url = await openLink(project, task);
  const anchor = h("a", { href: url, download: task.file_name || "", hidden: true });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
}

async function remove(project, task, onChanged) {
  const confirmed = await confirmAction("Delete this task?", `The task ${task.name} and its file are deleted for good.`, "Delete");
  if (!confirmed) return;
  await api.delete(projectPath(project, "download-tasks", task.id));
  toast(`Task ${task.name} deleted`);
  onChanged(null, task.id);
}

export function taskActions(project, task, onChanged) {
  const run = (label, action) => async () => {
    try {
      await action();
    } catch (error) {
      toast(`${label}: ${error.message}`, "error");
    }
  };
  const post = (verb) => run(verb, async () => onChanged(await api.post(projectPath(project, "download-tasks", task.id, verb)), task.id));
  const buttons = [];
  const writer = canWrite();
  if (task.status === "SUCCEEDED") {
    buttons.push(h("button", { type: "button", class: "button primary small", "data-action": "download", onclick: run("Download", () => download(project, task)) }, "Download"));
    buttons.push(h("button", { type: "button", class: "button small", "data-action": "copy-link", onclick: run("Copy link", () => copyLink(project, task)) }, "Copy link"));
  }
  if (writer && (task.status === "QUEUED" || task.status === "RUNNING")) {
    buttons.push(h("button", { type: "button", class: "button small", "data-action": "cancel", onclick: post("cancel") }, "Cancel"));
  }
  if (writer && (task.status === "FAILED" || task.status === "CANCELLED")) {
    buttons.push(h("button", { type: "button", class: "button small", "data-action": "retry", onclick: post("retry") }, "Retry"));
  }
  if (writer) {
    buttons.push(h("button", { type: "button", class: "button small danger-quiet", "data-action": "delete", onclick: run("Delete", () => remove(project, task, onChanged)) }, "Delete"));
  }
  return h("div", { class: "task-actions", role: "group", "aria-label": `Actions for ${task.name}` }, buttons);
}

export function taskRow(project, task, onChanged) {
  const href = `#/p/${encodeURIComponent(project)}/tasks/${encodeURIComponent(task.id)}`;
  return h("tr", { "data-task-id": task.id, class: "task-row" },
    h("td", { class: "task-name" }, h("a", { href }, task.name), h("div", { class: "muted small" }, `${task.logstore} · ${task.spec.format}${task.spec.format !== "parquet" && task.spec.compression !== "none" ? `+${task.spec.compression}` : ""}`, task.spec.sink ? h("span", { class: "task-sink", title: "written to this sink" }, ` → ${task.spec.sink.name}`) : null)),
    h("td", {}, statusBadge(task)),
    h("td", { class: "task-progress" }, progressBar(task), progressFacts(task), webhookState(task)),
    h("td", { class: "muted small created" }, formatTime(task.created_at)),
    h("td", {}, taskActions(project, task, onChanged)));
}
