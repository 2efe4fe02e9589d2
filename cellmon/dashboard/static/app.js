// The instructor's dashboard: reads the class read-outs, then keeps them current from the
// class's live channel. Messages only mark what changed; one animation frame applies them all,
// to the view shown (tiles or the seat map); the other catches up when it is shown.

import { API, LOGIN_PATH, request } from "./api.js";
import { el, setText } from "./dom.js";
import { LiveChannel } from "./live.js";
import { AttentionView, HeatmapView, TimelineView } from "./panels.js";
import { RosterView } from "./roster.js";
import { SeatMapView } from "./seatmap.js";
import { RosterImport } from "./roster_import.js";
import {
  LIVE_DRAW_MS,
  REFRESH_MS,
  RefreshSchedule,
  TIMELINE_DRAW_MS,
  URGENT_REFRESH_MS,
  applyMessage,
  displayName,
  distinctNames,
  mergeRoster,
  parseTime,
  studentState,
} from "./rules.js";

const TIMELINE_PERIOD_MS = 30000;

const $ = (id) => document.getElementById(id);

const state = {
  classId: null,
  notice: "", // what the roster says while no class is open
  generation: 0, // bumped on every class switch: answers for an older class are dropped
  activeMs: 5 * 60000,
  clockOffset: 0, // server clock minus this browser's, so that timers agree with the server
  students: new Map(),
  filter: "all",
  search: "",
  sort: "attention",
  view: "tiles", // "tiles", "compact" or "seats"
  labels: new Map(), // id → the name shown (rules.js distinctNames)
};

const now = () => Date.now() + state.clockOffset;

// The instant every clock text shows ("Help 45s", "2m ago", the seat card's wait): one for
// the whole page, moved once a second, so that no two places show a student a second apart.
let clockFace = now();

// What the next frame draws: students changed since each view last drew them, whether the
// order, the filter or the names may have changed, whether the clocks moved, and the
// read-outs that came in.
const pending = {
  tiles: new Set(),
  seats: new Set(),
  order: false,
  names: false,
  clocks: false,
  cells: null,
  timeline: false,
};
let frame = 0;

const roster = new RosterView($("roster"), { onSelect: (id) => roster.flash(id) });
const seatmap = new SeatMapView($("seatmap"), $("seat-detail"));
const attention = new AttentionView($("attention-list"), {
  onResolve: resolveHelp,
  onSelect: select,
});

// A student chosen in the attention list: found in the view shown.
function select(id) {
  if (state.view === "seats") seatmap.choose(id);
  else roster.flash(id);
}
const heatmap = new HeatmapView($("heatmap"), $("notebook-picker"));
const timeline = new TimelineView($("timeline-chart"), $("timeline-summary"));
new RosterImport($("roster-import"), { classId: () => state.classId, onImported: () => refreshNow("roster") });

const live = new LiveChannel({
  onMessage: receive,
  onSync: () => {
    refreshNow("roster");
    refreshNow("cells");
    refreshNow("timeline");
  },
  onStatus: showConnection,
  // A socket refused or dropped may mean the session ended: asking who is signed in finds
  // out, and a 401 sends the browser to sign in again.
  onClose: () => request(`${API}/users/me`).catch(() => {}),
});

// ---- the student model (its rules: rules.js) -------------------------------------------

const deriveState = (student) => studentState(student, now(), state.activeMs);

function receive(message) {
  const student = state.students.get(Number(message.data?.student_id));
  // Someone the page does not know yet (just enrolled, or first seen): read the roster again.
  if (!student) {
    refreshSoon("roster");
    return;
  }
  const name = student.name;
  const { run, stuckChanged, applied } = applyMessage(student, message, now());
  if (run) {
    if (timeline.count(run.at ?? now(), run.error)) redrawTimelineSoon();
    refreshSoon("timeline");
  }
  // The heat map counts distinct students per cell, which no message carries: it is read
  // again, soon when a cell's count of stuck students changed.
  if (run || stuckChanged) refreshSoon("cells", stuckChanged);
  if (applied) changed(student.id, student.name !== name);
  // The message moved the live picture; the read-out confirms it (and fills what it lacked).
  refreshSoon("roster");
}

function changed(id, renamed = false) {
  const student = state.students.get(id);
  if (student) student.state = deriveState(student);
  pending.tiles.add(id);
  pending.seats.add(id);
  pending.order = true;
  if (renamed) pending.names = true;
  schedule();
}

// ---- rendering, at most once per frame ---------------------------------------------

let drawTimer = 0;
let lastDraw = -Infinity;
let timelineTimer = 0;

// Draw what is pending: in the next frame when a person asked for it (`now`), else in the
// first frame LIVE_DRAW_MS after the last one, so that messages arriving meanwhile are drawn
// together.
function schedule(now = false) {
  if (frame) return;
  if (now) {
    clearTimeout(drawTimer);
    drawTimer = 0;
    frame = requestAnimationFrame(render);
  } else if (!drawTimer) {
    drawTimer = setTimeout(
      () => {
        drawTimer = 0;
        if (!frame) frame = requestAnimationFrame(render);
      },
      Math.max(0, lastDraw + LIVE_DRAW_MS - performance.now()),
    );
  }
}

function redrawTimelineSoon() {
  if (timelineTimer) return;
  timelineTimer = setTimeout(() => {
    timelineTimer = 0;
    pending.timeline = true;
    schedule();
  }, TIMELINE_DRAW_MS);
}

function visible(student) {
  if (state.filter !== "all" && student.state !== state.filter) return false;
  if (!state.search) return true;
  const haystack = `${student.name ?? ""} ${student.email} ${student.team_name ?? ""}`.toLowerCase();
  return haystack.includes(state.search);
}

function relabel() {
  const labels = distinctNames(state.students);
  for (const [id, label] of labels) {
    if (state.labels.get(id) !== label) {
      pending.tiles.add(id);
      pending.seats.add(id);
    }
  }
  state.labels = labels;
}

function render() {
  frame = 0;
  lastDraw = performance.now();
  const time = clockFace;
  if (pending.names) {
    pending.names = false;
    relabel();
  }
  const seats = state.view === "seats";
  const changes = seats ? pending.seats : pending.tiles;
  if (changes.size) {
    (seats ? seatmap : roster).update(state.students, changes, time, state.labels);
    changes.clear();
  }
  if (pending.order) {
    pending.order = false;
    const shown = seats ? seatmap.arrange(state.students, visible) : roster.arrange(state.students, state.sort, visible);
    const count = attention.render(state.students, time, state.labels);
    renderTotals(shown, count);
  }
  if (pending.clocks) {
    pending.clocks = false;
    if (seats) seatmap.tick(time);
    else roster.tick(state.students, time);
    attention.tick(state.students, time);
  }
  if (pending.cells) {
    heatmap.render(pending.cells);
    pending.cells = null;
  }
  if (pending.timeline) {
    pending.timeline = false;
    timeline.render(timeline.data);
  }
}

const totalNodes = document.querySelectorAll("[data-total]");
const filterButtons = document.querySelectorAll("#state-filters button");

// The header counts what the page shows: a sum over students, each of whom only ever moves
// forward (rules.js mergeRoster), so no total goes down while events arrive.
function renderTotals(shown, attentionCount) {
  const totals = { students: 0, active: 0, idle: 0, stuck: 0, help: 0, executions: 0, errors: 0 };
  for (const student of state.students.values()) {
    totals.students += 1;
    totals[student.state] += 1;
    totals.executions += student.executions;
    totals.errors += student.errors;
  }
  for (const node of totalNodes) {
    setText(node, totals[node.dataset.total].toLocaleString());
  }
  for (const button of filterButtons) {
    const key = button.dataset.filter;
    setText(button.querySelector(".n"), (key === "all" ? totals.students : totals[key]).toLocaleString());
  }
  setText($("attention-count"), attentionCount);
  $("attention-empty").hidden = attentionCount > 0;
  const empty = $("roster-empty");
  if (state.classId === null) {
    setText(empty, state.notice);
    empty.hidden = !state.notice;
    return;
  }
  if (!totals.students) {
    setText(empty, "No student is enrolled in this class yet.");
  } else if (!shown) {
    setText(empty, "No student matches this filter.");
  }
  empty.hidden = totals.students > 0 && shown > 0;
}

// Once a second: clocks move, and students fall from active to idle by time alone. The
// clocks move in the next draw, with the live changes, not in a frame of their own.
setInterval(() => {
  for (const student of state.students.values()) {
    const next = deriveState(student);
    if (next !== student.state) {
      student.state = next;
      pending.tiles.add(student.id);
      pending.seats.add(student.id);
      pending.order = true;
    }
  }
  clockFace = now();
  pending.clocks = true;
  schedule();
}, 1000);

// ---- reading the read-outs -----------------------------------------------------------

const refreshers = {
  async roster(classId) {
    const body = await request(`${API}/progress/classes/${classId}`);
    return () => {
      state.clockOffset = (parseTime(body.generated_at) ?? Date.now()) - Date.now();
      clockFace = now();
      pending.clocks = true;
      state.activeMs = body.active_minutes * 60000;
      setText($("class-name"), body.class_name);
      document.title = `${body.class_name} · cellmon`;
      // Student by student, the newer of this answer and the live messages heard meanwhile.
      const { changed: moved, membership } = mergeRoster(state.students, body, now(), state.activeMs);
      for (const id of moved) {
        pending.tiles.add(id);
        pending.seats.add(id);
      }
      if (moved.size) pending.order = true;
      if (membership || moved.size) pending.names = true;
    };
  },
  async cells(classId) {
    const body = await request(`${API}/progress/classes/${classId}/cells`);
    return () => {
      pending.cells = body;
    };
  },
  async timeline(classId) {
    const body = await request(`${API}/progress/classes/${classId}/timeline?minutes=60`);
    return () => {
      timeline.data = body;
      pending.timeline = true;
    };
  },
};

const schedules = Object.fromEntries(
  Object.entries(REFRESH_MS).map(([kind, gap]) => [kind, new RefreshSchedule(gap, URGENT_REFRESH_MS)]),
);
const timers = {};

function plan(kind, wait) {
  if (wait === null) return;
  clearTimeout(timers[kind]);
  timers[kind] = setTimeout(() => refreshNow(kind), wait);
}

function refreshSoon(kind, urgent = false) {
  plan(kind, schedules[kind].ask(Date.now(), urgent));
}

async function refreshNow(kind) {
  clearTimeout(timers[kind]);
  timers[kind] = null;
  const classId = state.classId;
  const generation = state.generation;
  if (classId === null) return;
  schedules[kind].started(Date.now());
  try {
    const apply = await refreshers[kind](classId);
    if (generation === state.generation) {
      apply();
      schedule();
      hideProblem(kind);
    }
  } catch (error) {
    if (generation !== state.generation) return;
    if (error.status === 404 || error.status === 403) classUnavailable(classId, error);
    else showProblem(kind, `Could not read the ${kind}: ${error.message}`);
  } finally {
    // A read asked for meanwhile is for the class shown now, whichever this one was for.
    plan(kind, schedules[kind].finished(Date.now()));
  }
}

setInterval(() => refreshSoon("timeline"), TIMELINE_PERIOD_MS);

// ---- actions -------------------------------------------------------------------------

async function resolveHelp(studentId) {
  const classId = state.classId;
  try {
    const resolution = await request(`${API}/progress/classes/${classId}/help/${studentId}/resolve`, {
      method: "POST",
    });
    const student = state.students.get(studentId);
    if (student && classId === state.classId) {
      // As the message about it will say, in its place in the order (a roster read before
      // the click cannot open the request again).
      const closed = { type: "help_request", position: resolution.position, data: { active: false } };
      if (applyMessage(student, closed, now()).applied) changed(studentId);
      toast(`Marked ${displayName(student)} as handled.`);
    }
  } catch (error) {
    toast(`Could not mark as handled: ${error.message}`, true);
  }
}

const problems = new Map();

function showProblem(kind, text) {
  problems.set(kind, text);
  const banner = $("problem");
  setText(banner, [...problems.values()].join(" · "));
  banner.hidden = false;
}

function hideProblem(kind) {
  if (!problems.delete(kind)) return;
  const banner = $("problem");
  setText(banner, [...problems.values()].join(" · "));
  banner.hidden = problems.size === 0;
}

let toastTimer = 0;
function toast(text, bad = false) {
  const node = $("toast");
  setText(node, text);
  node.dataset.bad = String(bad);
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    node.hidden = true;
  }, 4000);
}

function showConnection(status, delay) {
  const node = $("connection");
  node.dataset.state = status;
  const labels = {
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    live: "Live",
    idle: "No class followed",
    offline: `Offline, retrying in ${Math.ceil((delay ?? 0) / 1000)}s`,
  };
  setText(node, labels[status] ?? status);
}

// ---- choosing a class ----------------------------------------------------------------

function forgetClass() {
  state.generation += 1;
  state.students.clear();
  state.labels = new Map();
  roster.clear();
  seatmap.clear();
  attention.clear();
  heatmap.clear();
  timeline.clear();
  problems.clear();
  $("problem").hidden = true;
  pending.tiles.clear();
  pending.seats.clear();
  pending.order = true;
  for (const kind of Object.keys(schedules)) {
    schedules[kind].cancel();
    clearTimeout(timers[kind]);
    timers[kind] = null;
  }
}

function openClass(classId) {
  state.classId = classId;
  forgetClass();
  const url = new URL(location.href);
  url.searchParams.set("class_id", String(classId));
  history.replaceState(null, "", url);
  $("class-picker").value = String(classId);
  // Read at once, and again after the subscription is confirmed, so nothing falls between.
  refreshNow("roster");
  refreshNow("cells");
  refreshNow("timeline");
  live.follow(`class:${classId}`);
  schedule();
}

// The API answers 404 for a class that does not exist and for another instructor's class
// alike (so its id tells nothing), and 403 to an account that may watch no class at all.
function classUnavailable(classId, error) {
  if (classId !== state.classId) return;
  state.classId = null;
  forgetClass();
  live.leave();
  const title = error.status === 404 ? "No such class" : "Not allowed";
  setText($("class-name"), title);
  document.title = `${title} · cellmon`;
  $("class-picker").querySelector("option[data-unlisted]")?.remove();
  $("class-picker").value = "";
  state.notice =
    error.status === 404
      ? `No such class: class ${classId} does not exist, or it is not one of yours.`
      : `This class cannot be shown: ${error.message}`;
  schedule();
}

async function loadClasses() {
  const picker = $("class-picker");
  const classes = [];
  const limit = 500;
  try {
    for (let skip = 0; ; skip += limit) {
      const page = await request(`${API}/classes?skip=${skip}&limit=${limit}`);
      classes.push(...page);
      if (page.length < limit) break;
    }
  } catch (error) {
    showProblem("classes", `Could not list the classes: ${error.message}`);
  }
  picker.replaceChildren(
    el("option", { value: "", text: classes.length ? "Choose a class…" : "No classes yet" }),
    ...classes.map((each) => el("option", { value: each.id, text: `${each.name} (${each.class_code})` })),
  );
  const wanted = Number(new URLSearchParams(location.search).get("class_id"));
  if (Number.isInteger(wanted) && wanted > 0) {
    if (!classes.some((each) => each.id === wanted)) {
      picker.append(el("option", { value: wanted, text: `class ${wanted}`, "data-unlisted": true }));
    }
    openClass(wanted);
  } else if (classes.length === 1) {
    openClass(classes[0].id);
  } else {
    state.notice = classes.length ? "Choose a class to watch." : "Create a class first (POST /api/v1/classes).";
    pending.order = true;
    schedule();
  }
}

$("class-picker").addEventListener("change", (event) => {
  const classId = Number(event.target.value);
  if (classId > 0) openClass(classId);
});

for (const button of document.querySelectorAll("#state-filters button")) {
  button.addEventListener("click", () => {
    state.filter = button.dataset.filter;
    for (const other of document.querySelectorAll("#state-filters button")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
    pending.order = true;
    schedule(true);
  });
}

$("search").addEventListener("input", (event) => {
  state.search = event.target.value.trim().toLowerCase();
  pending.order = true;
  schedule(true);
});

$("sort").addEventListener("change", (event) => {
  state.sort = event.target.value;
  pending.order = true;
  schedule(true);
});

// Tiles, compact tiles (one line per student) or the seat map (the whole class at once).
const viewButtons = document.querySelectorAll("#views button");
for (const button of viewButtons) {
  button.addEventListener("click", () => {
    state.view = button.dataset.view;
    for (const other of viewButtons) other.setAttribute("aria-pressed", String(other === button));
    document.body.classList.toggle("compact", state.view === "compact");
    document.body.classList.toggle("seats", state.view === "seats");
    $("roster").hidden = state.view === "seats";
    $("seatmap").hidden = state.view !== "seats";
    $("sort").disabled = state.view === "seats";
    pending.order = true;
    schedule(true);
  });
}

// ---- who is signed in ----------------------------------------------------------------

async function showAccount() {
  try {
    const me = await request(`${API}/users/me`);
    const node = $("account");
    setText(node, me.email);
    node.dataset.role = me.role;
    node.title = me.full_name ? `${me.full_name} (${me.role})` : me.role;
  } catch (error) {
    showProblem("account", `Could not read who is signed in: ${error.message}`);
  }
}

async function signOut() {
  const button = $("sign-out");
  button.disabled = true;
  // Before the server closes this session's socket, which would otherwise read as a session
  // that expired.
  live.stop();
  try {
    await request(`${API}/auth/logout`, { method: "POST" });
  } catch (error) {
    // 401: the session had already ended, and the page is on its way to the sign-in page.
    if (error.status !== 401) {
      toast(`Could not sign out: ${error.message}`, true);
      button.disabled = false;
      live.connect();
    }
    return;
  }
  location.assign(`${LOGIN_PATH}?reason=signed-out`);
}

$("sign-out").addEventListener("click", signOut);

showAccount();
loadClasses();
