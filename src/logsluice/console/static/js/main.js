// The console's entry point: find out who is signed in, then route on the URL's hash
// (#/p/<project>/search, #/p/<project>/tasks, …) to a page that renders into <main>.

import { api, setCsrfToken, whenSignedOut } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { parseRoute, navigate } from "./router.js";
import { state } from "./state.js";
import { renderSignIn } from "./pages/signin.js";
import { renderProjects } from "./pages/projects.js";
import { renderLogstores } from "./pages/logstores.js";
import { renderSearch } from "./pages/search.js";
import { renderTasks } from "./pages/tasks.js";
import { renderTask } from "./pages/task.js";
import { renderAdmin } from "./pages/admin.js";
import { renderSinks } from "./pages/sinks.js";
import { maySeeSinks } from "./sinks.js";

const main = document.getElementById("main");
let leavePage = () => {};

async function loadSession() {
  const session = await api.get("/api/v1/session");
  setCsrfToken(session.csrf_token);
  state.session = session.signed_in ? session : null;
}

async function loadProjects() {
  state.projects = (await api.get("/api/v1/projects")).projects.map((project) => project.name);
}

function renderHeader(project) {
  const topbar = document.getElementById("topbar");
  topbar.hidden = !state.session;
  if (!state.session) return;
  const select = document.getElementById("project-select");
  const names = state.projects.includes(project) || !project ? state.projects : [project, ...state.projects];
  replaceChildren(select, names.map((name) => h("option", { value: name, selected: name === project }, name)));
  select.disabled = names.length < 2;
  const current = project || state.projects[0] || "";
  const base = current ? `#/p/${encodeURIComponent(current)}` : "#/";
  document.getElementById("nav-logstores").href = base;
  document.getElementById("nav-search").href = current ? `${base}/search` : "#/";
  document.getElementById("nav-tasks").href = current ? `${base}/tasks` : "#/";
  document.getElementById("nav-admin").hidden = !(state.session.role === "admin" && !state.session.project);
  const sinks = document.getElementById("nav-sinks");
  sinks.hidden = !current || !maySeeSinks();
  sinks.href = current ? `${base}/sinks` : "#/";
  const scope = state.session.project ? ` · ${state.session.project}` : "";
  document.getElementById("who-name").textContent = `${state.session.principal} (${state.session.role}${scope})`;
  document.getElementById("sign-out").hidden = state.session.authentication !== "session";
}

function markCurrentNav(route) {
  for (const [id, name] of [["nav-logstores", "logstores"], ["nav-search", "search"], ["nav-tasks", "tasks"], ["nav-sinks", "sinks"], ["nav-admin", "admin"]]) {
    const link = document.getElementById(id);
    if (route.page === name || (name === "tasks" && route.page === "task")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

const PAGES = {
  projects: renderProjects,
  logstores: renderLogstores,
  search: renderSearch,
  tasks: renderTasks,
  task: renderTask,
  admin: renderAdmin,
  sinks: renderSinks,
};

let showing = 0;

async function show() {
  const current = ++showing;
  leavePage();
  leavePage = () => {};
  const route = parseRoute(window.location.hash);
  if (!state.session) {
    document.getElementById("topbar").hidden = true;
    leavePage = renderSignIn(main, onSignedIn) || leavePage;
    return;
  }
  if (route.page === "projects" && state.projects.length === 1) {
    navigate(`#/p/${encodeURIComponent(state.projects[0])}`, { replace: true });
    return;
  }
  renderHeader(route.project);
  markCurrentNav(route);
  const page = PAGES[route.page] || renderProjects;
  // Each page renders into a view of its own: one still loading when the next is asked for
  // renders into a view already taken out of <main>, never over the newer page.
  const view = h("div", { class: "view" }, h("p", { class: "loading" }, "Loading…"));
  replaceChildren(main, view);
  try {
    const leave = await page(view, route);
    if (current === showing) leavePage = leave || leavePage;
    else if (leave) leave();
  } catch (error) {
    if (current !== showing || error.status === 401) return; // another page (or sign-in) took over
    replaceChildren(view, h("div", { class: "notice error", role: "alert" }, h("strong", {}, "Could not load this page. "), error.message));
  }
}

async function onSignedIn() {
  await loadSession();
  await loadProjects();
  await show();
}

whenSignedOut(() => {
  state.session = null;
  setCsrfToken(null);
  show();
});

document.getElementById("project-select").addEventListener("change", (event) => {
  const route = parseRoute(window.location.hash);
  const page = ["search", "tasks", "sinks"].includes(route.page) ? `/${route.page}` : "";
  navigate(`#/p/${encodeURIComponent(event.target.value)}${page}`);
});

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await api.delete("/api/v1/session");
  } finally {
    state.session = null;
    setCsrfToken(null);
    navigate("#/");
    show();
  }
});

window.addEventListener("hashchange", show);

(async () => {
  await loadSession();
  if (state.session) await loadProjects();
  await show();
})();
