// Talking to the metrics API with the signed-in person's bearer token.

const TOKEN_KEY = "salesops.metrics.token";

export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/**
 * The token from ``#token=...`` (kept for this tab, then removed from the address bar so
 * it is neither bookmarked nor shown over a shoulder), else the one kept earlier.
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
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim().replace(/^Bearer\s+/i, ""));
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function authHeaders() {
  return { Authorization: `Bearer ${token()}`, Accept: "application/json" };
}

/** GET a path of the API (relative like "/indicators?unit=hq") as JSON. */
export async function get(path, { signal } = {}) {
  const response = await fetch(path, { headers: authHeaders(), signal, cache: "no-store" });
  if (response.status === 401) throw new Unauthorized();
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      // not a problem document; the status says enough
    }
    throw new ApiError(response.status, problem);
  }
  return response.json();
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
