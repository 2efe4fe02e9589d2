// The sign-in page: posts the form to /api/v1/auth/session, which sets the HttpOnly session
// cookie, then goes where `?next=` says, but only to a path on this site: a link to the
// sign-in page must not be able to send someone, freshly signed in, to another site.

import { API, LOGIN_PATH, failure } from "./api.js";
import { setText } from "./dom.js";

const DEFAULT_NEXT = "/dashboard";
// Why the page is shown, by a word in the URL; the text itself never comes from the URL.
const NOTICES = {
  expired: "Your session has ended. Sign in again to continue.",
  "signed-out": "You have signed out.",
};

const $ = (id) => document.getElementById(id);
const form = $("signin-form");
const submit = $("signin-submit");
const params = new URLSearchParams(location.search);

function safeNext(raw) {
  if (typeof raw !== "string" || !raw.startsWith("/")) return DEFAULT_NEXT;
  let url;
  try {
    // Resolving catches what a prefix test misses: "//host", "/\host", "/<tab>/host"…
    url = new URL(raw, location.origin);
  } catch {
    return DEFAULT_NEXT;
  }
  if (url.origin !== location.origin || url.pathname === LOGIN_PATH) return DEFAULT_NEXT;
  return url.pathname + url.search + url.hash;
}

function showError(text) {
  const node = $("signin-error");
  setText(node, text);
  node.hidden = !text;
}

function setBusy(busy) {
  submit.disabled = busy;
  form.setAttribute("aria-busy", String(busy));
  setText(submit, busy ? "Signing in…" : "Sign in");
}

// Retry-After is a number of seconds or an HTTP date; null when it is neither.
function retryAfterSeconds(value) {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  const wait = Number.isFinite(seconds) ? seconds : (Date.parse(value) - Date.now()) / 1000;
  return Number.isNaN(wait) ? null : Math.max(1, Math.ceil(wait));
}

// The server refuses sign-ins for a while (too many attempts): say how long, and keep the
// button off until then so that impatient clicks do not extend the wait.
function holdOff(seconds) {
  if (seconds === null) {
    showError("Too many sign-in attempts. Wait a while, then try again.");
    return;
  }
  const until = Date.now() + seconds * 1000;
  submit.disabled = true;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left > 0) {
      showError(`Too many sign-in attempts. Try again in ${left} s.`);
      setTimeout(tick, 1000);
    } else {
      showError("");
      submit.disabled = false;
    }
  };
  tick();
}

async function signIn(event) {
  event.preventDefault();
  const username = form.elements.username.value.trim();
  const password = form.elements.password.value;
  if (!username || !password) {
    showError("Enter your e-mail address and your password.");
    (username ? form.elements.password : form.elements.username).focus();
    return;
  }
  showError("");
  setBusy(true);
  let response;
  try {
    response = await fetch(`${API}/auth/session`, {
      method: "POST",
      headers: { Accept: "application/json" },
      body: new URLSearchParams({ username, password }),
    });
  } catch {
    setBusy(false);
    showError("Could not reach the server. Check the network and try again.");
    return;
  }
  if (response.ok) {
    location.replace(safeNext(params.get("next")));
    return;
  }
  setBusy(false);
  if (response.status === 401) {
    showError("Wrong e-mail address or password (or the account is disabled).");
    form.elements.password.value = "";
    form.elements.password.focus();
  } else if (response.status === 429) {
    holdOff(retryAfterSeconds(response.headers.get("Retry-After")));
  } else {
    showError(`Could not sign in: ${(await failure(response)).message}`);
  }
}

const reason = params.get("reason");
if (reason !== null && Object.hasOwn(NOTICES, reason)) {
  setText($("signin-notice"), NOTICES[reason]);
  $("signin-notice").hidden = false;
}
form.addEventListener("submit", signIn);
