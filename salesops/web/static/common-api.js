// Calling the services with the signed-in person's bearer token; shared by the metrics
// dashboard and the console (salesops/web/static/, served among each app's assets).
// Errors arrive as RFC 9457 problem documents; an ApiError keeps the whole document so
// forms can put each reason next to its field.

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
 * The bearer token, kept under ``key`` in ``storage``: each app chooses how long it lives
 * (sessionStorage: this tab only; localStorage: every tab of the browser).
 */
export class TokenStore {
  constructor(key, storage) {
    this.key = key;
    this.storage = storage;
  }

  /**
   * The token from ``#token=...`` (a fragment never reaches a server log), kept and then
   * removed from the address bar at once, so it is neither bookmarked nor shown over a
   * shoulder; else the one kept earlier.
   */
  take() {
    const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    const given = fragment.get("token");
    if (given) {
      this.save(given);
      fragment.delete("token");
      const rest = fragment.toString();
      const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
      window.history.replaceState(null, "", url);
    }
    return this.get();
  }

  /** Keeps a token as pasted or handed over: surrounding blanks and "Bearer " dropped. */
  save(value) {
    this.storage.setItem(this.key, value.trim().replace(/^Bearer\s+/i, ""));
  }

  forget() {
    this.storage.removeItem(this.key);
  }

  get() {
    return this.storage.getItem(this.key);
  }

  /** The Authorization header, or none without a token (the server answers 401 either way). */
  headers() {
    const value = this.get();
    return value ? { Authorization: `Bearer ${value}` } : {};
  }
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

/** The problem document of a refused call, or null when the body is not one. */
export async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return null; // not a problem document (e.g. a proxy's HTML page): the status says enough
  }
}

/** A network failure (no answer at all) as an ApiError with status 0; aborts pass through. */
function unanswered(error) {
  if (error.name === "AbortError") return error;
  return new ApiError(0, { type: "urn:salesops:problem:network", detail: String(error) });
}

/**
 * Calls with the token of ``tokens`` (a TokenStore): ``request(method, path, {json, form,
 * signal})`` answers the JSON body (null for 204), throws Unauthorized on a 401 and an
 * ApiError with the problem document on any other refusal; ``getBlob`` fetches a file the
 * token guards, which an <img src> or a plain link could not send.
 */
export function apiClient(tokens) {
  async function request(method, path, { json, form, signal } = {}) {
    const headers = { Accept: "application/json", ...tokens.headers() };
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
      throw unanswered(error);
    }
    if (response.status === 401) throw new Unauthorized(await problemOf(response));
    if (!response.ok) throw new ApiError(response.status, await problemOf(response));
    if (response.status === 204) return null;
    return response.json();
  }

  async function getBlob(path, { signal } = {}) {
    let response;
    try {
      response = await fetch(path, { headers: tokens.headers(), signal, cache: "no-store" });
    } catch (error) {
      throw unanswered(error);
    }
    if (response.status === 401) throw new Unauthorized(await problemOf(response));
    if (!response.ok) throw new ApiError(response.status, await problemOf(response));
    return response.blob();
  }

  return {
    request,
    get: (path, options) => request("GET", path, options),
    post: (path, json, options = {}) => request("POST", path, { ...options, json }),
    put: (path, json, options = {}) => request("PUT", path, { ...options, json }),
    postForm: (path, form, options = {}) => request("POST", path, { ...options, form }),
    getBlob,
  };
}
