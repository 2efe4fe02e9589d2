// Talking to the API as the signed-in browser. The session travels in the HttpOnly cookie
// the sign-in page obtained; every write echoes the readable CSRF cookie in X-CSRF-Token
// (the server refuses a cookie-authenticated write without it), and an answer of 401 means
// the session has ended, so the page goes to sign in and comes back here afterwards.

export const API = "/api/v1";
export const LOGIN_PATH = "/login";
const CSRF_COOKIE = "cellmon_csrf";
const CSRF_HEADER = "X-CSRF-Token";
const READS = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return "";
}

// Why the sign-in page is shown, as a word it knows: never text from the URL on the page.
export function signInURL(reason) {
  const query = new URLSearchParams({ next: location.pathname + location.search });
  if (reason) query.set("reason", reason);
  return `${LOGIN_PATH}?${query}`;
}

let leaving = false;

export function goToSignIn(reason) {
  if (leaving) return;
  leaving = true;
  location.assign(signInURL(reason));
}

// The error an answer other than 2xx stands for, with the server's message when it gave one.
export async function failure(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, detail);
}

// The answer to a request, parsed; an ApiError (with the status) for any other than 2xx.
export async function request(url, { method = "GET", ...options } = {}) {
  const headers = { Accept: "application/json" };
  if (!READS.has(method)) headers[CSRF_HEADER] = cookie(CSRF_COOKIE);
  const response = await fetch(url, { method, headers, ...options });
  if (response.status === 401) goToSignIn("expired");
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}
