// Talking to the services through the console's one address: /api/<service>/<path>, with
// the signed-in person's bearer token. Errors arrive as RFC 9457 problem documents; an
// ApiError keeps the whole document so forms can put each reason next to its field.

export const TOKEN_KEY = "salesops.console.token";

export class Unauthorized extends Error {
  constructor(problem) {
    super(problem?.detail || "unauthenticated");
    this.problem = problem;
  }
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  /** ``[{field, reason}]`` of the problem document (empty when it names no field). */
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

/**
 * The token from ``#token=...`` (the OIDC callback hands it over in the fragment, which
 * never reaches a server log), removed from the address bar at once; else the one kept.
 * Kept in localStorage rather than per tab: a link in a chat message opens a new tab, and
 * that tab should open the record, not the sign-in screen.
 */
export function takeToken() {
  const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const given = fragment.get("token");
  if (given) {
    saveToken(given);
    fragment.delete("token");
    const rest = fragment.toString();
    const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
    window.history.replaceState(null, "", url);
  }
  return token();
}

export function saveToken(value) {
  localStorage.setItem(TOKEN_KEY, value.trim().replace(/^Bearer\s+/i, ""));
}

export function forgetToken() {
  localStorage.removeItem(TOKEN_KEY);
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function authHeaders() {
  const value = token();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

/** A query string of the given values, leaving out the empty ones. */
export function query(values) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== null && value !== undefined && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return null; // not a problem document (e.g. a proxy's HTML page): the status says enough
  }
}

/** One call; ``path`` is the console's (e.g. "/api/tasks/tasks?day=2026-03-10"). */
export async function request(method, path, { json, form, signal } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // FormData: the browser writes the multipart boundary itself
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal, cache: "no-store" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { type: "urn:salesops:problem:network", detail: String(error) });
  }
  if (response.status === 401) throw new Unauthorized(await problemOf(response));
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, json, options = {}) => request("POST", path, { ...options, json });
export const put = (path, json, options = {}) => request("PUT", path, { ...options, json });
export const postForm = (path, form, options = {}) => request("POST", path, { ...options, form });

/**
 * A file behind the console (an evidence copy), fetched with the bearer token, which an
 * <img src> or a plain link could not send; show it through URL.createObjectURL.
 */
export async function getBlob(path, { signal } = {}) {
  let response;
  try {
    response = await fetch(path, { headers: authHeaders(), signal, cache: "no-store" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { type: "urn:salesops:problem:network", detail: String(error) });
  }
  if (response.status === 401) throw new Unauthorized(await problemOf(response));
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response.blob();
}

/** Path of a service's API behind the console. */
export function api(service, path) {
  return `/api/${service}${path.startsWith("/") ? path : `/${path}`}`;
}
