// Talking to the services through the console's one address: /api/<service>/<path>, with
// the signed-in person's bearer token. The client itself (token, calls, problem documents)
// is common-api.js, which the metrics dashboard uses too.

import { TokenStore, apiClient } from "./common-api.js";

export { ApiError, Unauthorized, query } from "./common-api.js";

export const TOKEN_KEY = "salesops.console.token";

// Kept in localStorage rather than per tab: a link in a chat message opens a new tab, and
// that tab should open the record, not the sign-in screen. The OIDC callback hands the
// token over in the fragment (``#token=...``).
const tokens = new TokenStore(TOKEN_KEY, localStorage);

export const takeToken = () => tokens.take();
export const saveToken = (value) => tokens.save(value);
export const forgetToken = () => tokens.forget();
export const token = () => tokens.get();
export const authHeaders = () => tokens.headers();

/**
 * ``request(method, path, {json, form, signal})`` and its shorthands; ``path`` is the
 * console's (e.g. "/api/tasks/tasks?day=2026-03-10"). ``getBlob`` fetches a file behind
 * the console (an evidence copy); show it through URL.createObjectURL.
 */
export const { request, get, post, put, postForm, getBlob } = apiClient(tokens);

/** Path of a service's API behind the console. */
export function api(service, path) {
  return `/api/${service}${path.startsWith("/") ? path : `/${path}`}`;
}
