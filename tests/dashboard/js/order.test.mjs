// The dashboard's rules for large classes (cellmon/dashboard/static/rules.js): one order for
// roster reads and live messages, the formatting every view shares, telling namesakes apart,
// and moving as few tiles as possible.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  applyMessage,
  distinctNames,
  formatAgo,
  formatDuration,
  mergeRoster,
  orderMoves,
  stateBadge,
  studentState,
} from "../../../cellmon/dashboard/static/rules.js";

const MINUTE = 60000;
const NOW = Date.parse("2025-04-01T10:00:00Z");
const ACTIVE_MS = 5 * MINUTE;

function row(id, fields = {}) {
  return {
    id,
    email: `student${id}@example.com`,
    name: `Student ${id}`,
    team_name: null,
    state: "active",
    executions: 0,
    errors: 0,
    last_activity_at: "2025-04-01T09:59:00Z",
    help_active: false,
    help_requested_at: null,
    current: null,
    stuck_on: null,
    ...fields,
  };
}

function roster(position, ...rows) {
  return { position, students: rows };
}

function run(id, position, status = "success", cell = "cell-1") {
  return {
    type: "execution_update",
    position,
    sent_at: "2025-04-01T10:00:00Z",
    data: {
      student_id: id,
      event_time: "2025-04-01T10:00:00Z",
      notebook_path: "lessons/week1.ipynb",
      client_cell_id: cell,
      cell_index: 1,
      status,
    },
  };
}

function help(id, position, active) {
  return { type: "help_request", position, sent_at: "2025-04-01T10:00:00Z", data: { student_id: id, active } };
}

function totalRuns(students) {
  let sum = 0;
  for (const student of students.values()) sum += student.executions;
  return sum;
}

describe("roster reads and live messages in one order", () => {
  it("keeps a message newer than a roster read that answers after it", () => {
    const students = new Map();
    mergeRoster(students, roster(10, row(1, { executions: 4 })), NOW, ACTIVE_MS);
    const ann = students.get(1);
    assert.equal(applyMessage(ann, help(1, 12, true), NOW).applied, true);
    assert.equal(studentState(ann, NOW, ACTIVE_MS), "help");
    // A read taken before the request (position 11) answers only now.
    const { changed } = mergeRoster(students, roster(11, row(1, { executions: 4 })), NOW, ACTIVE_MS);
    assert.equal(changed.size, 0);
    assert.equal(students.get(1).help_active, true);
    // A read that includes the request replaces what the page knew.
    mergeRoster(students, roster(12, row(1, { executions: 4, help_active: true, help_requested_at: "2025-04-01T09:59:30Z" })), NOW, ACTIVE_MS);
    assert.equal(students.get(1).help_active, true);
    assert.equal(students.get(1).helpSince, NOW - 30000);
  });

  it("does not count again a message that the roster read already includes", () => {
    const students = new Map();
    mergeRoster(students, roster(20, row(1, { executions: 5 })), NOW, ACTIVE_MS);
    const ann = students.get(1);
    // Published before the read and delivered after its answer.
    const late = applyMessage(ann, run(1, 19), NOW);
    assert.equal(late.applied, false);
    assert.deepEqual(late.run, { at: NOW, error: false }); // the timeline still counts it
    assert.equal(ann.executions, 5);
    assert.equal(applyMessage(ann, run(1, 21), NOW).applied, true);
    assert.equal(ann.executions, 6);
  });

  it("never lowers a total while events arrive, whatever order reads and messages come in", () => {
    // The truth: student 1 and 2 each run once per position from 1 to 30; a read of position
    // P says P runs each. Reads answer late, messages arrive in order, both interleaved.
    const students = new Map();
    mergeRoster(students, roster(0, row(1), row(2)), NOW, ACTIVE_MS);
    const seen = [totalRuns(students)];
    const reads = [];
    for (let position = 1; position <= 30; position += 1) {
      if (position % 3 === 0) reads.push(position - 2); // a read taken a while ago
      for (const id of [1, 2]) applyMessage(students.get(id), run(id, position), NOW);
      seen.push(totalRuns(students));
      if (position % 4 === 0 && reads.length) {
        const at = reads.shift();
        mergeRoster(students, roster(at, row(1, { executions: at }), row(2, { executions: at })), NOW, ACTIVE_MS);
        seen.push(totalRuns(students));
      }
    }
    for (let index = 1; index < seen.length; index += 1) {
      assert.ok(seen[index] >= seen[index - 1], `total went down from ${seen[index - 1]} to ${seen[index]}`);
    }
    assert.equal(totalRuns(students), 60);
    mergeRoster(students, roster(30, row(1, { executions: 30 }), row(2, { executions: 30 })), NOW, ACTIVE_MS);
    assert.equal(totalRuns(students), 60);
  });

  it("heals a lost message at the next read that includes it", () => {
    const students = new Map();
    mergeRoster(students, roster(5, row(1, { executions: 1 })), NOW, ACTIVE_MS);
    applyMessage(students.get(1), run(1, 7), NOW); // 6 was lost on the way
    assert.equal(students.get(1).executions, 2);
    mergeRoster(students, roster(7, row(1, { executions: 3 })), NOW, ACTIVE_MS);
    assert.equal(students.get(1).executions, 3);
  });

  it("lets a student leave only on a read that includes all the page knows of them", () => {
    const students = new Map();
    mergeRoster(students, roster(3, row(1), row(2)), NOW, ACTIVE_MS);
    applyMessage(students.get(2), run(2, 5), NOW);
    let result = mergeRoster(students, roster(4, row(1)), NOW, ACTIVE_MS);
    assert.ok(students.has(2));
    assert.equal(result.membership, false);
    result = mergeRoster(students, roster(5, row(1)), NOW, ACTIVE_MS);
    assert.ok(!students.has(2));
    assert.equal(result.membership, true);
  });

  it("answers only the students who look different", () => {
    const students = new Map();
    let result = mergeRoster(students, roster(1, row(1), row(2)), NOW, ACTIVE_MS);
    assert.deepEqual([...result.changed], [1, 2]);
    assert.equal(result.membership, true);
    result = mergeRoster(students, roster(2, row(1), row(2, { executions: 1 })), NOW, ACTIVE_MS);
    assert.deepEqual([...result.changed], [2]);
    assert.equal(result.membership, false);
  });

  it("behaves as before with a server that gives no positions", () => {
    const students = new Map();
    mergeRoster(students, { students: [row(1, { executions: 2 })] }, NOW, ACTIVE_MS);
    const { position, ...message } = run(1, null);
    assert.equal(position, null);
    assert.equal(applyMessage(students.get(1), message, NOW).applied, true);
    mergeRoster(students, { students: [row(1, { executions: 3 })] }, NOW, ACTIVE_MS);
    assert.equal(students.get(1).executions, 3);
  });
});

describe("waiting times", () => {
  it("read the same everywhere: seconds, then minutes and seconds, then hours", () => {
    assert.equal(formatDuration(45000), "45s");
    assert.equal(formatDuration(4 * MINUTE + 5000), "4m 05s");
    assert.equal(formatDuration(80 * MINUTE), "1h 20m");
    assert.equal(formatDuration(-5), "0s");
    assert.equal(formatAgo(3000), "just now");
    assert.equal(formatAgo(4 * MINUTE + 5000), "4m ago");
  });

  it("make the badge of a help request say what the list says", () => {
    const asker = { state: "help", helpSince: NOW - 45000 };
    assert.equal(stateBadge(asker, NOW), "Help 45s");
    assert.equal(stateBadge({ state: "help", helpSince: null }, NOW), "Help");
    assert.equal(stateBadge({ state: "stuck", stuck_on: { consecutive_errors: 4 } }, NOW), "Stuck ×4");
    assert.equal(stateBadge({ state: "idle" }, NOW), "Idle");
  });
});

describe("names", () => {
  const person = (id, name, email) => ({ id, name, email });

  it("are shown as typed when nobody else has them", () => {
    const labels = distinctNames(new Map([[1, person(1, "Ann", "ann@a.jp")], [2, person(2, null, "bo@a.jp")]]));
    assert.deepEqual([...labels], [[1, "Ann"], [2, "bo@a.jp"]]);
  });

  it("of namesakes carry the e-mail's local part, or the whole address when that is shared too", () => {
    const labels = distinctNames(
      new Map([
        [1, person(1, "Ken Sato", "ken@a.jp")],
        [2, person(2, "ken sato", "sato.k@a.jp")],
        [3, person(3, "Mio", "mio@a.jp")],
        [4, person(4, "Mio", "mio@b.jp")],
      ]),
    );
    assert.equal(labels.get(1), "Ken Sato (ken)");
    assert.equal(labels.get(2), "ken sato (sato.k)");
    assert.equal(labels.get(3), "Mio (mio@a.jp)");
    assert.equal(labels.get(4), "Mio (mio@b.jp)");
    assert.equal(new Set(labels.values()).size, 4);
  });
});

describe("moving tiles into a new order", () => {
  function apply(current, moves) {
    const list = [...current];
    for (const [id, before] of moves) {
      const from = list.indexOf(id);
      if (from >= 0) list.splice(from, 1);
      list.splice(before === null ? list.length : list.indexOf(before), 0, id);
    }
    return list;
  }

  it("moves one tile when one student moved, wherever to", () => {
    const current = Array.from({ length: 1000 }, (_, index) => index);
    const wanted = [...current];
    wanted.splice(10, 1);
    wanted.splice(900, 0, 10);
    const moves = orderMoves(current, wanted);
    assert.equal(moves.length, 1);
    assert.deepEqual(apply(current, moves), wanted);
  });

  it("reaches any order, new tiles included", () => {
    const current = [1, 2, 3, 4, 5, 6];
    for (const wanted of [[6, 5, 4, 3, 2, 1], [2, 1, 7, 3, 5, 4, 6], [8, 1, 2, 3, 4, 5, 6], []]) {
      const kept = wanted.filter((id) => current.includes(id));
      const start = current.filter((id) => kept.includes(id));
      assert.deepEqual(apply(start, orderMoves(current, wanted)), wanted);
    }
    assert.deepEqual(orderMoves(current, current), []);
  });
});
