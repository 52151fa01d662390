// The native /api/v1 API as the console calls it: same-origin, the session cookie sent by the
// browser, the session's CSRF token in X-CSRF-Token on every state-changing request, and errors
// as ApiError objects with the envelope's code, message and details.

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
let csrfToken = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export function setCsrfToken(token) {
  csrfToken = token || null;
}

export function whenSignedOut(handler) {
  onSignedOut = handler;
}

export async function request(method, path, { body, query } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, item);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE_METHODS.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (response.status === 204) return null;
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = payload.error || {};
    const failure = new ApiError(
      response.status,
      error.code || "http_error",
      error.message || `${response.status} ${response.statusText}`,
      error.details,
    );
    if (response.status === 401 && !path.endsWith("/session")) onSignedOut(failure);
    throw failure;
  }
  return payload;
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, body, query) => request("POST", path, { body, query }),
  delete: (path) => request("DELETE", path),
};

export function projectPath(project, ...rest) {
  const parts = [project, ...rest].map((part) => encodeURIComponent(part));
  return `/api/v1/projects/${parts.join("/")}`;
}
