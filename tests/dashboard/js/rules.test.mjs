// The dashboard's rules (cellmon/dashboard/static/rules.js), run by Node's own test runner
// as the browser runs them: `make js` (part of `make test`).

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  REFRESH_MS,
  RefreshSchedule,
  URGENT_REFRESH_MS,
  adoptStudent,
  applyMessage,
  needingAttention,
  rosterOrder,
  studentState,
} from "../../../cellmon/dashboard/static/rules.js";

const MINUTE = 60000;
const NOW = Date.parse("2025-04-01T10:00:00Z");
const ACTIVE_MS = 5 * MINUTE;

function student(id, fields = {}) {
  const made = {
    id,
    email: `student${id}@example.com`,
    name: `Student ${id}`,
    team_name: null,
    executions: 0,
    errors: 0,
    help_active: false,
    helpSince: null,
    stuck_on: null,
    current: null,
    lastActivity: NOW - MINUTE,
    ...fields,
  };
  made.state = studentState(made, NOW, ACTIVE_MS);
  return made;
}

function stuckOn(consecutiveErrors, cell = "cell-4") {
  return {
    notebook_path: "lessons/week1.ipynb",
    cell_index: 4,
    client_cell_id: cell,
    consecutive_errors: consecutiveErrors,
    last_error_message: "ZeroDivisionError: division by zero",
  };
}

function byId(...students) {
  return new Map(students.map((each) => [each.id, each]));
}

const ids = (students) => students.map((each) => each.id);

describe("a student's state", () => {
  it("is help before stuck before active", () => {
    const both = { help_active: true, stuck_on: stuckOn(3), lastActivity: NOW };
    assert.equal(studentState(both, NOW, ACTIVE_MS), "help");
    assert.equal(studentState({ ...both, help_active: false }, NOW, ACTIVE_MS), "stuck");
    assert.equal(studentState({ ...both, help_active: false, stuck_on: null }, NOW, ACTIVE_MS), "active");
  });

  it("is active through the window's last moment, idle after it or without activity", () => {
    const at = (lastActivity) => studentState({ help_active: false, stuck_on: null, lastActivity }, NOW, ACTIVE_MS);
    assert.equal(at(NOW - ACTIVE_MS), "active");
    assert.equal(at(NOW - ACTIVE_MS - 1), "idle");
    assert.equal(at(null), "idle");
  });

  it("comes from a roster row, a help request without its start counting from now", () => {
    const row = {
      id: 1,
      email: "a@example.com",
      name: null,
      last_activity_at: "2025-04-01T09:58:00Z",
      help_active: true,
      help_requested_at: null,
      stuck_on: null,
    };
    const adopted = adoptStudent(row, NOW, ACTIVE_MS);
    assert.equal(adopted.lastActivity, NOW - 2 * MINUTE);
    assert.equal(adopted.helpSince, NOW);
    assert.equal(adopted.state, "help");
    const idle = adoptStudent({ ...row, help_active: false, last_activity_at: "2025-04-01T09:54:59Z" }, NOW, ACTIVE_MS);
    assert.equal(idle.helpSince, null);
    assert.equal(idle.state, "idle");
  });
});

describe("a live message", () => {
  const execution = (status, fields = {}) => ({
    type: "execution_update",
    sent_at: "2025-04-01T10:00:01Z",
    data: {
      student_id: 1,
      event_time: "2025-04-01T10:00:00Z",
      notebook_path: "lessons/week1.ipynb",
      client_cell_id: "cell-4",
      cell_index: 4,
      status,
      error_message: status === "error" ? "NameError: name 'df' is not defined" : null,
      ...fields,
    },
  });

  it("counts a run, and reports it for the timeline", () => {
    const ann = student(1, { lastActivity: NOW - 10 * MINUTE });
    const moved = applyMessage(ann, execution("error"), NOW);
    assert.deepEqual(moved, { run: { at: NOW, error: true }, stuckChanged: false, applied: true });
    assert.equal(ann.executions, 1);
    assert.equal(ann.errors, 1);
    assert.deepEqual(ann.current, {
      notebook_path: "lessons/week1.ipynb",
      cell_index: 4,
      client_cell_id: "cell-4",
      last_status: "error",
    });
    assert.equal(ann.lastActivity, NOW);
  });

  it("ends being stuck on a success on that cell, and says the heat map's stuck count moved", () => {
    const ann = student(1, { stuck_on: stuckOn(3) });
    assert.deepEqual(applyMessage(ann, execution("success"), NOW).stuckChanged, true);
    assert.equal(ann.stuck_on, null);
  });

  it("lengthens the streak of an error on the stuck cell, and leaves it on another cell", () => {
    const ann = student(1, { stuck_on: stuckOn(3) });
    assert.equal(applyMessage(ann, execution("error"), NOW).stuckChanged, false);
    assert.equal(ann.stuck_on.consecutive_errors, 4);
    assert.equal(ann.stuck_on.last_error_message, "NameError: name 'df' is not defined");
    applyMessage(ann, execution("success", { client_cell_id: "cell-5", cell_index: 5 }), NOW);
    assert.equal(ann.stuck_on.consecutive_errors, 4);
  });

  it("makes a student stuck from an alert, the cell's position taken from their last run", () => {
    const ann = student(1);
    applyMessage(ann, execution("error"), NOW);
    const alert = {
      type: "stuck_alert",
      data: { student_id: 1, client_cell_id: "cell-4", consecutive_errors: 3, error_message: "boom" },
      sent_at: "2025-04-01T10:00:02Z",
    };
    assert.deepEqual(applyMessage(ann, alert, NOW), { run: null, stuckChanged: true, applied: true });
    assert.equal(ann.stuck_on.cell_index, 4);
    assert.equal(ann.stuck_on.consecutive_errors, 3);
    assert.equal(studentState(ann, NOW, ACTIVE_MS), "stuck");
  });

  it("opens and closes help; an instructor's resolution is not the student's activity", () => {
    const ann = student(1, { lastActivity: NOW - 10 * MINUTE });
    const asked = { type: "help_request", data: { student_id: 1, event_type: "help", active: true, event_time: "2025-04-01T09:59:00Z" } };
    applyMessage(ann, asked, NOW);
    assert.equal(ann.help_active, true);
    assert.equal(ann.helpSince, NOW - MINUTE);
    assert.equal(ann.lastActivity, NOW - MINUTE);
    applyMessage(ann, { type: "help_request", data: { student_id: 1, active: false }, sent_at: "2025-04-01T10:00:00Z" }, NOW);
    assert.equal(ann.help_active, false);
    assert.equal(ann.helpSince, null);
    assert.equal(ann.lastActivity, NOW - MINUTE);
  });

  it("never moves activity back, and takes the name and team the student typed", () => {
    const ann = student(1, { lastActivity: NOW });
    const presence = { type: "presence", data: { student_id: 1, event_time: "2025-04-01T09:00:00Z", name: "Ann", team_name: "チームA" } };
    assert.deepEqual(applyMessage(ann, presence, NOW), { run: null, stuckChanged: false, applied: true });
    assert.equal(ann.lastActivity, NOW);
    assert.equal(ann.name, "Ann");
    assert.equal(ann.team_name, "チームA");
  });
});

describe("the attention order", () => {
  it("lists help requests, longest waiting first, before stuck students", () => {
    const students = byId(
      student(1, { stuck_on: stuckOn(9) }),
      student(2, { help_active: true, helpSince: NOW - MINUTE }),
      student(3, { help_active: true, helpSince: NOW - 5 * MINUTE }),
      student(4),
    );
    assert.deepEqual(ids(needingAttention(students)), [3, 2, 1]);
  });

  it("ranks stuck students by their run of errors, then by how long they have been alone with it", () => {
    const students = byId(
      // Names in the opposite order, so that a tie broken by name would fail.
      student(1, { name: "Zoe", stuck_on: stuckOn(3), lastActivity: NOW - 3 * MINUTE }),
      student(2, { name: "Yan", stuck_on: stuckOn(3), lastActivity: NOW - 30000 }),
      student(3, { name: "Xia", stuck_on: stuckOn(5), lastActivity: NOW }),
    );
    assert.deepEqual(ids(needingAttention(students)), [3, 1, 2]);
  });

  it("breaks a full tie by name, then by id", () => {
    const students = byId(
      student(3, { name: "Bea", stuck_on: stuckOn(3) }),
      student(2, { name: "Bea", stuck_on: stuckOn(3) }),
      student(1, { name: "Cal", stuck_on: stuckOn(3) }),
      student(4, { name: null, email: "adam@example.com", stuck_on: stuckOn(3) }),
    );
    assert.deepEqual(ids(needingAttention(students)), [4, 2, 3, 1]);
  });

  it("is the roster's own attention sort: the list first, then active, then idle", () => {
    const students = byId(
      student(1, { name: "Ida", lastActivity: NOW - 10 * MINUTE }),
      student(2, { name: "Zoe", stuck_on: stuckOn(3), lastActivity: NOW - 3 * MINUTE }),
      student(3, { name: "Amy", stuck_on: stuckOn(3), lastActivity: NOW - MINUTE }),
      student(4, { name: "Abe" }),
      student(5, { help_active: true, helpSince: NOW - MINUTE }),
      student(6, { name: "Ada", lastActivity: null }),
    );
    const listed = ids(needingAttention(students));
    const roster = ids(rosterOrder(students, "attention"));
    assert.deepEqual(roster, [5, 2, 3, 4, 6, 1]);
    assert.deepEqual(roster.slice(0, listed.length), listed);
    assert.deepEqual(ids(rosterOrder(students, "no such sort")), roster);
  });

  it("leaves the roster's other sorts to their own keys", () => {
    const students = byId(
      student(1, { name: "Cal", team_name: "B", errors: 1, executions: 9, lastActivity: NOW - 2 * MINUTE }),
      student(2, { name: "Abe", team_name: null, errors: 5, executions: 1, lastActivity: NOW }),
      student(3, { name: "Bea", team_name: "A", errors: 1, executions: 4, lastActivity: NOW - MINUTE }),
    );
    assert.deepEqual(ids(rosterOrder(students, "name")), [2, 3, 1]);
    assert.deepEqual(ids(rosterOrder(students, "team")), [3, 1, 2]);
    assert.deepEqual(ids(rosterOrder(students, "recent")), [2, 3, 1]);
    assert.deepEqual(ids(rosterOrder(students, "errors")), [2, 3, 1]);
    assert.deepEqual(ids(rosterOrder(students, "executions")), [1, 3, 2]);
  });
});

describe("reading a read-out again", () => {
  it("keeps the roster and the heat map 4 s apart, the timeline 5 s", () => {
    for (const [kind, gap] of [["roster", 4000], ["cells", 4000], ["timeline", 5000]]) {
      const schedule = new RefreshSchedule(REFRESH_MS[kind], URGENT_REFRESH_MS);
      schedule.started(NOW);
      schedule.finished(NOW + 50);
      assert.equal(schedule.ask(NOW + 100), gap - 100, kind);
    }
  });

  it("reads at once when nothing was read lately, then at most every 4 s", () => {
    const roster = new RefreshSchedule(REFRESH_MS.roster, URGENT_REFRESH_MS);
    assert.equal(roster.ask(NOW), 0);
    roster.started(NOW);
    assert.equal(roster.finished(NOW + 50), null);
    assert.equal(roster.ask(NOW + 100), 3900);
    assert.equal(roster.ask(NOW + 200), null, "one read planned serves every ask until it begins");
    roster.started(NOW + 4000);
    roster.finished(NOW + 4050);
    assert.equal(roster.ask(NOW + 9000), 0);
  });

  it("reads the heat map within a second of a change in who is stuck, even with a slower read planned", () => {
    const cells = new RefreshSchedule(REFRESH_MS.cells, URGENT_REFRESH_MS);
    cells.started(NOW);
    cells.finished(NOW + 50);
    assert.equal(cells.ask(NOW + 100), 3900);
    assert.equal(cells.ask(NOW + 200, true), 800);
    assert.equal(cells.ask(NOW + 300), null);
    assert.equal(cells.ask(NOW + 300, true), null);
    assert.ok(URGENT_REFRESH_MS <= 1000, "a second and a read's time stay within the 2 s promise");
  });

  it("never reads while a read runs, and reads once more after it when asked meanwhile", () => {
    const cells = new RefreshSchedule(4000, 1000);
    cells.started(NOW);
    assert.equal(cells.ask(NOW + 10), null);
    assert.equal(cells.ask(NOW + 20, true), null);
    assert.equal(cells.ask(NOW + 30), null, "a normal ask does not undo an urgent one");
    assert.equal(cells.finished(NOW + 300), 700);
    cells.started(NOW + 1000);
    assert.equal(cells.finished(NOW + 1100), null, "nobody asked during this one");
  });

  it("waits for every read of two at once before the next", () => {
    const roster = new RefreshSchedule(4000);
    roster.started(NOW);
    roster.started(NOW + 10);
    roster.ask(NOW + 20);
    assert.equal(roster.finished(NOW + 100), null);
    assert.equal(roster.finished(NOW + 200), 3810);
  });

  it("forgets what was planned or asked for when another class is shown", () => {
    const roster = new RefreshSchedule(4000);
    roster.started(NOW);
    roster.ask(NOW + 10);
    roster.cancel();
    assert.equal(roster.finished(NOW + 100), null);
    assert.equal(roster.ask(NOW + 200), 3800, "the gap still counts from the last read begun");
    roster.cancel();
    assert.equal(roster.ask(NOW + 300), 3700, "nothing planned any more: a new timer is set");
  });
});
