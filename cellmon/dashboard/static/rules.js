// The dashboard's rules: what state a student's tile shows, how a live message changes a
// student, who needs attention first, and when a read-out may be read again. Functions of
// data and time only (the caller passes `now`): no DOM, no timers, no requests, nothing done
// on import. The page (app.js) wires them to the DOM, the socket and the clock, and
// `make js` tests them (tests/dashboard/js/, Node's built-in runner).

// ---- a student's state ----------------------------------------------------------------

// Most urgent first: the attention order's first key.
export const STATE_RANK = { help: 0, stuck: 1, active: 2, idle: 3 };

export function displayName(student) {
  return student.name || student.email;
}

// Everything that tells a student apart, whole: for tooltips and details.
export function fullIdentity(student) {
  const name = student.name ? `${student.name} <${student.email}>` : student.email;
  return student.team_name ? `${name} · ${student.team_name}` : name;
}

// How long something has lasted or someone has waited, one rule for every place that shows it
// (tile, list, seat map): "45s", "4m 05s", "1h 20m", "3d".
export function formatDuration(milliseconds) {
  const seconds = Math.max(0, Math.floor(milliseconds / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${String(minutes % 60).padStart(2, "0")}m`;
  return `${Math.floor(hours / 24)}d`;
}

// How long ago, coarser: "just now", "12s ago", "4m ago".
export function formatAgo(milliseconds) {
  if (milliseconds === null) return "never";
  if (milliseconds < 5000) return "just now";
  return `${formatDuration(milliseconds).split(" ")[0]} ago`;
}

// How long an open help request has waited ("" when its start is unknown).
export function helpWait(student, now) {
  return student.helpSince === null || student.helpSince === undefined ? "" : formatDuration(now - student.helpSince);
}

// The label of a student's state beside their name: "Help 45s", "Stuck ×3", "Active", "Idle".
export function stateBadge(student, now) {
  if (student.state === "help") return ["Help", helpWait(student, now)].filter(Boolean).join(" ");
  if (student.state === "stuck") return `Stuck ×${student.stuck_on.consecutive_errors}`;
  return student.state === "active" ? "Active" : "Idle";
}

function localPart(email) {
  return String(email).split("@")[0];
}

// The name to show for each student, such that two students are never shown alike: a name
// that several students share gets their e-mail's local part, or the whole address when
// that is shared too. Answers a Map of id → label.
export function distinctNames(students) {
  const byName = new Map();
  for (const student of students.values()) {
    const key = displayName(student).trim().toLowerCase();
    const same = byName.get(key);
    if (same) same.push(student);
    else byName.set(key, [student]);
  }
  const labels = new Map();
  for (const group of byName.values()) {
    if (group.length === 1) {
      labels.set(group[0].id, displayName(group[0]));
      continue;
    }
    const locals = new Map();
    for (const student of group) {
      const key = localPart(student.email).toLowerCase();
      locals.set(key, (locals.get(key) ?? 0) + 1);
    }
    for (const student of group) {
      const local = localPart(student.email);
      const suffix = student.name ? (locals.get(local.toLowerCase()) > 1 ? student.email : local) : `#${student.id}`;
      labels.set(student.id, `${displayName(student)} (${suffix})`);
    }
  }
  return labels;
}

// As the server's roster decides it (classroom/service.py): an open help request, else a
// stuck cell, else activity within the class's window (its last moment included), else idle.
export function studentState(student, now, activeMs) {
  if (student.help_active) return "help";
  if (student.stuck_on) return "stuck";
  if (student.lastActivity !== null && now - student.lastActivity <= activeMs) return "active";
  return "idle";
}

export function parseTime(value) {
  if (!value) return null;
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : time;
}

// A student as the roster read-out describes them, with times as milliseconds. A help
// request without its start time counts from `now`, so that it never sorts as the oldest.
// `position` is the roster's live position (below).
export function adoptStudent(row, now, activeMs, position = null) {
  const student = { ...row };
  student.lastActivity = parseTime(row.last_activity_at);
  student.helpSince = row.help_active ? (parseTime(row.help_requested_at) ?? now) : null;
  student.state = studentState(student, now, activeMs);
  // The roster's position (what the student's figures include) and the newest position of
  // what the page knows of them (that roster, or a message applied since).
  student.basePosition = position;
  student.position = position;
  return student;
}

// ---- one order for roster reads and live messages ----------------------------------------
// A roster read-out carries the live position it was read at, and a live message that
// changes a student the position of its change (cellmon/live/positions.py): a roster of
// position P includes every message of position up to P and none after it. So the page
// keeps, per student, the newer of the two: a roster row replaces a student only if it
// includes everything the page applied to them, and a message changes a student only if the
// roster row they came from does not already include it. Counts then never go down while
// events arrive, whatever order the answers and messages come in.

function positionOf(value) {
  return Number.isSafeInteger(value) ? value : null;
}

// Whether a roster of `position` includes all the page knows of `student` (a server that
// gives no positions: always, as before they existed).
export function rosterIncludes(position, student) {
  return position === null || student.position === null || student.position === undefined || position >= student.position;
}

const SHOWN_FIELDS = ["state", "name", "email", "team_name", "executions", "errors", "lastActivity", "helpSince"];

function sameCell(a, b, fields) {
  if (!a || !b) return !a === !b;
  return fields.every((field) => a[field] === b[field]);
}

const CURRENT_FIELDS = ["notebook_path", "cell_index", "client_cell_id", "last_status"];
const STUCK_FIELDS = ["notebook_path", "cell_index", "client_cell_id", "consecutive_errors", "last_error_message"];

// Whether two versions of a student look the same on the page.
export function looksSame(a, b) {
  return (
    SHOWN_FIELDS.every((field) => a[field] === b[field]) &&
    sameCell(a.current, b.current, CURRENT_FIELDS) &&
    sameCell(a.stuck_on, b.stuck_on, STUCK_FIELDS)
  );
}

// Take a roster read-out into `students` (a Map of id → student), student by student as the
// rule above says; a student missing from it leaves only if it includes all the page knows of
// them. Answers the ids whose look changed (their tiles need drawing) and whether anyone came
// or went.
export function mergeRoster(students, roster, now, activeMs) {
  const position = positionOf(roster.position);
  const changed = new Set();
  let membership = false;
  const seen = new Set();
  for (const row of roster.students) {
    seen.add(row.id);
    const known = students.get(row.id);
    if (known && !rosterIncludes(position, known)) continue;
    const adopted = adoptStudent(row, now, activeMs, position);
    if (!known) membership = true;
    if (!known || !looksSame(known, adopted)) changed.add(row.id);
    students.set(row.id, adopted);
  }
  for (const [id, student] of students) {
    if (!seen.has(id) && rosterIncludes(position, student)) {
      students.delete(id);
      changed.add(id);
      membership = true;
    }
  }
  return { changed, membership };
}

// ---- live messages --------------------------------------------------------------------

function touch(student, at) {
  if (at !== null && (student.lastActivity === null || at > student.lastActivity)) {
    student.lastActivity = at;
  }
}

function sameCellId(a, b) {
  return a !== null && a !== undefined && b !== null && b !== undefined && String(a) === String(b);
}

// The messages' data is what cellmon's worker publishes (cellmon/events/handlers.py).
function applyExecution(student, data, at) {
  const error = data.status === "error";
  student.executions += 1;
  if (error) student.errors += 1;
  const cell = {
    notebook_path: data.notebook_path ?? student.current?.notebook_path ?? "",
    cell_index: data.cell_index ?? null,
    client_cell_id: data.client_cell_id ?? null,
    last_status: error ? "error" : "success",
  };
  student.current = cell;
  let unstuck = false;
  if (student.stuck_on && sameCellId(student.stuck_on.client_cell_id, cell.client_cell_id)) {
    if (error) {
      student.stuck_on = {
        ...student.stuck_on,
        consecutive_errors: student.stuck_on.consecutive_errors + 1,
        last_error_message: data.error_message ?? student.stuck_on.last_error_message,
      };
    } else {
      student.stuck_on = null;
      unstuck = true;
    }
  }
  touch(student, at);
  return { run: { at, error }, stuckChanged: unstuck };
}

function applyHelp(student, data, at, now) {
  student.help_active = data.active !== false;
  student.helpSince = student.help_active ? (student.helpSince ?? at ?? now) : null;
  // A student's own help / help_stop is activity; an instructor's resolution is not.
  if (data.event_type) touch(student, at);
  return { run: null, stuckChanged: false };
}

function applyStuck(student, data, at) {
  // The alert names the cell by id; its position is known from the execution just before.
  const current = sameCellId(student.current?.client_cell_id, data.client_cell_id) ? student.current : null;
  student.stuck_on = {
    notebook_path: data.notebook_path ?? current?.notebook_path ?? "",
    cell_index: current?.cell_index ?? null,
    client_cell_id: data.client_cell_id ?? null,
    consecutive_errors: Number(data.consecutive_errors ?? 0),
    last_error_message: data.error_message ?? null,
  };
  touch(student, at);
  return { run: null, stuckChanged: true };
}

// Apply one live message of the student's class to the student (their state is left to
// studentState), unless the roster row the student came from includes it already. Answers
// whether it was `applied`, and what else it moved: `run` (an execution, {at, error}) for the
// timeline (which no roster includes), `stuckChanged` when a cell's count of students stuck
// on it changed (a stuck alert, or a success on the cell the student was stuck on) for the
// heat map.
export function applyMessage(student, message, now) {
  const data = message.data && typeof message.data === "object" ? message.data : {};
  const at = parseTime(data.event_time) ?? parseTime(message.sent_at);
  const position = positionOf(message.position);
  if (position !== null) {
    const base = student.basePosition ?? null;
    if (base !== null && position <= base) {
      const run = message.type === "execution_update" ? { at, error: data.status === "error" } : null;
      return { run, stuckChanged: false, applied: false };
    }
    if (student.position === null || student.position === undefined || position > student.position) {
      student.position = position;
    }
  }
  return { ...applyChange(student, message.type, data, at, now), applied: true };
}

function applyChange(student, type, data, at, now) {
  // The student's own event says who they are now (the name and team they typed).
  if (typeof data.name === "string" && data.name) student.name = data.name;
  if (typeof data.team_name === "string" && data.team_name) student.team_name = data.team_name;
  switch (type) {
    case "execution_update":
      return applyExecution(student, data, at);
    case "help_request":
      return applyHelp(student, data, at, now);
    case "stuck_alert":
      return applyStuck(student, data, at);
    default: // presence, and whatever a newer server may add: the student did something
      touch(student, at);
      return { run: null, stuckChanged: false };
  }
}

// ---- who needs attention first --------------------------------------------------------

// One collator for every comparison of names: String.localeCompare builds one per call, and
// a sort of 1,000 students makes about 10,000 comparisons.
const collator = new Intl.Collator();

function byName(a, b) {
  return collator.compare(displayName(a), displayName(b)) || a.id - b.id;
}

// The one attention order, for the attention list and the roster's "Needs attention first":
// help before stuck before active before idle; among help requests the longest waiting; among
// stuck students the longest run of errors, then the longest on their own with it (the oldest
// latest activity, the wait the list shows beside them). A name only breaks what remains:
// it says nothing about urgency, and ranking by it would serve Aaron before Zoe every time.
export function byAttention(a, b) {
  return (
    STATE_RANK[a.state] - STATE_RANK[b.state] ||
    (a.state === "help" ? (a.helpSince ?? 0) - (b.helpSince ?? 0) : 0) ||
    (a.state === "stuck"
      ? b.stuck_on.consecutive_errors - a.stuck_on.consecutive_errors ||
        (a.lastActivity ?? 0) - (b.lastActivity ?? 0)
      : 0) ||
    byName(a, b)
  );
}

// Those waiting for help or stuck, in the attention order.
export function needingAttention(students) {
  const wanted = [];
  for (const student of students.values()) {
    if (student.state === "help" || student.state === "stuck") wanted.push(student);
  }
  return wanted.sort(byAttention);
}

export const ROSTER_SORTS = {
  attention: byAttention,
  name: byName,
  team: (a, b) => collator.compare(a.team_name || "\uffff", b.team_name || "\uffff") || byName(a, b),
  recent: (a, b) => (b.lastActivity ?? 0) - (a.lastActivity ?? 0) || byName(a, b),
  errors: (a, b) => b.errors - a.errors || byName(a, b),
  executions: (a, b) => b.executions - a.executions || byName(a, b),
};

// The students in the roster's order `sort` (an unknown sort: the attention order).
export function rosterOrder(students, sort) {
  return [...students.values()].sort(ROSTER_SORTS[sort] ?? byAttention);
}

// ---- drawing ----------------------------------------------------------------------------

// Live changes are drawn at most this often: at 100 events a second, each frame of a
// browser's 60 would otherwise style, lay out and paint a little, and that overhead costs
// more than the changes themselves. A frame of a lecture hall costs about the same for one
// change as for twenty (a student who gets stuck moves every tile after them), so 4 frames a
// second cost about 40 % less than 10 (docs/benchmarks.md), and a quarter second is still
// well within the 2 s promised from event to screen. What a person does (a click, a keystroke) is drawn in
// the next frame. The timeline's bars move by the minute: redrawn at most once a second.
export const LIVE_DRAW_MS = 250;
export const TIMELINE_DRAW_MS = 1000;

// ---- reading the read-outs again ------------------------------------------------------

// Least time between two reads of the same read-out while messages keep coming.
export const REFRESH_MS = { roster: 4000, cells: 4000, timeline: 5000 };
// The heat map's least time between reads after a message that changed who is stuck on a
// cell: within the promised 2 s from event to heat map with a read's time to spare, and at
// most one read a second while a class gets stuck cell after cell.
export const URGENT_REFRESH_MS = 1000;

// When a read-out may be read again. Messages keep asking for reads; a schedule turns them
// into reads that begin at least `gapMs` apart (`urgentGapMs` for an urgent ask), never
// while another read of it runs, and once more after a read during which one was asked for
// (that read may have been answered before what the ask was about).
export class RefreshSchedule {
  constructor(gapMs, urgentGapMs = gapMs) {
    this.gapMs = gapMs;
    this.urgentGapMs = urgentGapMs;
    this.lastStart = -Infinity;
    this.running = 0;
    this.dueAt = null; // when the planned read begins; null when none is planned
    this.again = null; // null, "normal" or "urgent": asked for while a read ran
  }

  // A read is wanted at `now`: the delay after which to begin it, when the caller must (re)set
  // its timer to that; null when the read already planned, or asked after the running one,
  // comes soon enough.
  ask(now, urgent = false) {
    if (this.running > 0) {
      if (urgent || this.again === null) this.again = urgent ? "urgent" : "normal";
      return null;
    }
    const at = Math.max(now, this.lastStart + (urgent ? this.urgentGapMs : this.gapMs));
    if (this.dueAt !== null && this.dueAt <= at) return null;
    this.dueAt = at;
    return at - now;
  }

  // A read begins at `now` (planned, or forced by the page: a class opened, a socket synced).
  started(now) {
    this.running += 1;
    this.dueAt = null;
    this.lastStart = now;
  }

  // A read ended at `now`: the delay for the next one when it was asked for meanwhile, else null.
  finished(now) {
    this.running = Math.max(0, this.running - 1);
    if (this.again === null) return null;
    const urgent = this.again === "urgent";
    this.again = null;
    return this.ask(now, urgent);
  }

  // Another class is shown: nothing planned or asked for remains (reads in flight end as
  // they will, and the page drops their answers).
  cancel() {
    this.dueAt = null;
    this.again = null;
  }
}

// ---- moving as few nodes as possible ---------------------------------------------------

// Indices of a longest strictly increasing run of `values` (ignoring negatives), in order.
function longestIncreasing(values) {
  const tails = []; // tails[k]: index of the smallest last value of an increasing run of k + 1
  const previous = new Array(values.length).fill(-1);
  for (let i = 0; i < values.length; i += 1) {
    if (values[i] < 0) continue;
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (values[tails[middle]] < values[i]) low = middle + 1;
      else high = middle;
    }
    if (low > 0) previous[i] = tails[low - 1];
    tails[low] = i;
  }
  const kept = new Set();
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = previous[i]) kept.add(i);
  return kept;
}

// The moves that turn a list of nodes in order `current` into order `wanted` (the same ids,
// plus new ones; those only in `current` are the caller's to remove), touching as few as
// possible: those outside a longest run already in order. Each move is [id, beforeId] (null:
// at the end), to apply in the order given. A single student moving costs one move, not a
// re-insertion of the whole list (each insertion makes the browser lay the list out again).
export function orderMoves(current, wanted) {
  const at = new Map(current.map((id, index) => [id, index]));
  const kept = longestIncreasing(wanted.map((id) => at.get(id) ?? -1));
  const moves = [];
  for (let index = wanted.length - 1; index >= 0; index -= 1) {
    if (!kept.has(index)) moves.push([wanted[index], index + 1 < wanted.length ? wanted[index + 1] : null]);
  }
  return moves;
}
