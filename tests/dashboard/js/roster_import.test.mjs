// How the dashboard words and orders a roster import's report
// (cellmon/dashboard/static/roster_import.js), run by Node's own test runner.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  OUTCOME_LABELS,
  ignoredNote,
  orderedRows,
  rosterImportURL,
  summarize,
} from "../../../cellmon/dashboard/static/roster_import.js";

function report(fields = {}) {
  return {
    class_id: 3,
    rows: 0,
    created: 0,
    enrolled: 0,
    already_enrolled: 0,
    errors: 0,
    changed: false,
    ignored_columns: [],
    results: [],
    ...fields,
  };
}

function row(number, outcome) {
  return { row: number, email: `s${number}@example.org`, outcome, student_id: null, error: null };
}

describe("summarize", () => {
  it("counts what changed, leaving out the outcomes nobody had", () => {
    const text = summarize(report({ rows: 1004, created: 1000, enrolled: 1, errors: 3, changed: true }));
    assert.equal(text, "1,004 rows: 1,000 created, 1 enrolled, 3 errors.");
  });

  it("says when a second import had nothing to change", () => {
    assert.equal(
      summarize(report({ rows: 2, already_enrolled: 2 })),
      "Nothing to change: 2 already enrolled.",
    );
  });

  it("says when nothing was imported because every new row was wrong", () => {
    assert.equal(
      summarize(report({ rows: 2, already_enrolled: 1, errors: 1 })),
      "Nothing imported: 1 already enrolled, 1 error.",
    );
  });

  it("names a file with a header alone", () => {
    assert.equal(summarize(report()), "The file holds no students (only its header).");
  });
});

describe("orderedRows", () => {
  it("puts errors first, then new students and enrollments, then the rest, each by row", () => {
    const rows = [
      row(2, "already_enrolled"),
      row(3, "created"),
      row(4, "error"),
      row(5, "enrolled"),
      row(6, "error"),
      row(7, "created"),
    ];
    const ordered = orderedRows(report({ results: rows })).map((each) => each.row);
    assert.deepEqual(ordered, [4, 6, 3, 5, 7, 2]);
    // The report itself is left as the server sent it.
    assert.deepEqual(
      rows.map((each) => each.row),
      [2, 3, 4, 5, 6, 7],
    );
  });
});

describe("the rest", () => {
  it("lists the columns the server did not keep", () => {
    assert.equal(ignoredNote(report()), "");
    assert.equal(ignoredNote(report({ ignored_columns: ["学籍番号", "Section"] })), "Columns not imported: 学籍番号, Section.");
  });

  it("labels every outcome the API documents and posts to the class's CSV route", () => {
    assert.deepEqual(Object.keys(OUTCOME_LABELS).sort(), ["already_enrolled", "created", "enrolled", "error"]);
    assert.equal(rosterImportURL(12), "/api/v1/classes/12/roster/csv");
  });
});
