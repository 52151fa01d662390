// One live channel per page: a server-sent-events stream of the project's task changes
// (GET …/download-tasks/events?ids=…). The browser reconnects by itself after a network error.

import { projectPath } from "./api.js";

export function watchTasks(project, taskIds, { onTask, onRemoved, onState }) {
  const url = new URL(projectPath(project, "download-tasks", "events"), window.location.origin);
  if (taskIds.length) url.searchParams.set("ids", taskIds.join(","));
  const source = new EventSource(url, { withCredentials: true });
  source.addEventListener("task", (event) => onTask(JSON.parse(event.data)));
  source.addEventListener("removed", (event) => onRemoved && onRemoved(JSON.parse(event.data).id));
  source.addEventListener("open", () => onState && onState("live"));
  source.addEventListener("error", () => onState && onState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting"));
  return () => source.close();
}
