// Routes live in the URL's hash, so reloading or sharing a link shows the same page:
//   #/                          projects
//   #/p/<project>               logstores of a project
//   #/p/<project>/search?…      search (logstore, q, range, from, to)
//   #/p/<project>/tasks?…       download tasks (status, page)
//   #/p/<project>/tasks/<id>    one task
//   #/p/<project>/sinks         the project's sinks (admin)
//   #/admin                     access keys, and the way to each project's sinks

export function parseRoute(hash) {
  const text = (hash || "").replace(/^#/, "") || "/";
  const [path, queryText = ""] = text.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = Object.fromEntries(new URLSearchParams(queryText));
  if (parts[0] === "admin") return { page: "admin", query };
  if (parts[0] !== "p" || !parts[1]) return { page: "projects", query };
  const project = parts[1];
  if (parts[2] === "search") return { page: "search", project, query };
  if (parts[2] === "tasks" && parts[3]) return { page: "task", project, taskId: parts[3], query };
  if (parts[2] === "tasks") return { page: "tasks", project, query };
  if (parts[2] === "sinks") return { page: "sinks", project, query };
  return { page: "logstores", project, query };
}

export function routeHash(project, page, query = {}) {
  const base = `#/p/${encodeURIComponent(project)}${page ? `/${page}` : ""}`;
  const entries = Object.entries(query).filter(([, value]) => value !== undefined && value !== null && value !== "");
  return entries.length ? `${base}?${new URLSearchParams(entries)}` : base;
}

export function navigate(hash, { replace = false } = {}) {
  if (window.location.hash === hash) return;
  if (!replace) {
    window.location.hash = hash;
    return;
  }
  window.history.replaceState(null, "", hash);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

// Change the URL without showing the page again (the page already shows that state).
export function rememberInUrl(hash) {
  if (window.location.hash !== hash) window.history.replaceState(null, "", hash);
}
