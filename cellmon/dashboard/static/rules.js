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
export function adoptStudent(row, now, activeMs) {
  const student = { ...row };
  student.lastActivity = parseTime(row.last_activity_at);
  student.helpSince = row.help_active ? (parseTime(row.help_requested_at) ?? now) : null;
  student.state = studentState(student, now, activeMs);
  return student;
}

// ---- live messages --------------------------------------------------------------------

function touch(student, at) {
  if (at !== null && (student.lastActivity === null || at > student.lastActivity)) {
    student.lastActivity = at;
  }
}

function sameCell(a, b) {
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
  if (student.stuck_on && sameCell(student.stuck_on.client_cell_id, cell.client_cell_id)) {
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
  const current = sameCell(student.current?.client_cell_id, data.client_cell_id) ? student.current : null;
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
// studentState). Answers what else it moved: `run` (an execution, {at, error}) for the
// timeline, `stuckChanged` when a cell's count of students stuck on it changed (a stuck
// alert, or a success on the cell the student was stuck on) for the heat map.
export function applyMessage(student, message, now) {
  const data = message.data && typeof message.data === "object" ? message.data : {};
  const at = parseTime(data.event_time) ?? parseTime(message.sent_at);
  // The student's own event says who they are now (the name and team they typed).
  if (typeof data.name === "string" && data.name) student.name = data.name;
  if (typeof data.team_name === "string" && data.team_name) student.team_name = data.team_name;
  switch (message.type) {
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

function byName(a, b) {
  return displayName(a).localeCompare(displayName(b)) || a.id - b.id;
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
  team: (a, b) => (a.team_name || "\uffff").localeCompare(b.team_name || "\uffff") || byName(a, b),
  recent: (a, b) => (b.lastActivity ?? 0) - (a.lastActivity ?? 0) || byName(a, b),
  errors: (a, b) => b.errors - a.errors || byName(a, b),
  executions: (a, b) => b.executions - a.executions || byName(a, b),
};

// The students in the roster's order `sort` (an unknown sort: the attention order).
export function rosterOrder(students, sort) {
  return [...students.values()].sort(ROSTER_SORTS[sort] ?? byAttention);
}

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
