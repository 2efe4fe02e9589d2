// Importing a class's roster from the CSV file an LMS exports: a button in the top bar, the
// file sent as it is to POST /classes/{id}/roster/csv (the server reads its columns), and
// the server's report shown row by row. The wording and order of the report are pure
// functions, tested by node --test; the class below only wires them to the page.

import { API, request } from "./api.js";
import { el, setText } from "./dom.js";

export const OUTCOME_LABELS = {
  created: "created",
  enrolled: "enrolled",
  already_enrolled: "already enrolled",
  error: "error",
};
const COUNTED = ["created", "enrolled", "already_enrolled", "errors"];
const COUNT_LABELS = { ...OUTCOME_LABELS, errors: "error" };

export function rosterImportURL(classId) {
  return `${API}/classes/${classId}/roster/csv`;
}

function plural(count, word) {
  if (word === "error" && count !== 1) return `${count.toLocaleString("en")} errors`;
  return `${count.toLocaleString("en")} ${word}`;
}

// One line for the whole import: "2 created, 1 enrolled, 997 already enrolled, 1 error".
export function summarize(report) {
  if (report.rows === 0) return "The file holds no students (only its header).";
  const parts = COUNTED.filter((key) => report[key] > 0).map((key) =>
    plural(report[key], COUNT_LABELS[key]),
  );
  const text = `${parts.join(", ")}.`;
  if (report.changed) return `${report.rows.toLocaleString("en")} rows: ${text}`;
  return report.errors > 0 ? `Nothing imported: ${text}` : `Nothing to change: ${text}`;
}

// The rows to look at first: errors, then new students and new enrollments, each in file
// order; those already enrolled last.
export function orderedRows(report) {
  const rank = { error: 0, created: 1, enrolled: 1, already_enrolled: 2 };
  return [...report.results].sort((a, b) => rank[a.outcome] - rank[b.outcome] || a.row - b.row);
}

// The note under the summary: the columns the server did not keep, so a misnamed one shows.
export function ignoredNote(report) {
  const columns = report.ignored_columns ?? [];
  if (!columns.length) return "";
  return `Columns not imported: ${columns.join(", ")}.`;
}

export class RosterImport {
  // `classId()`: the class shown now (null when none); `onImported(report)`: after a success.
  constructor(container, { classId, onImported }) {
    this.classId = classId;
    this.onImported = onImported;
    this.input = el("input", { type: "file", accept: ".csv,.tsv,.txt,text/csv", hidden: true });
    this.button = el("button", {
      type: "button",
      class: "roster-import-button",
      text: "Import roster",
      title: "Enroll the students of a CSV file exported from your LMS",
    });
    this.summary = el("p", { class: "roster-import-summary", role: "status" });
    this.note = el("p", { class: "roster-import-note" });
    this.body = el("tbody");
    this.table = el(
      "table",
      { class: "roster-import-rows" },
      el(
        "thead",
        {},
        el("tr", {}, ...["Row", "E-mail", "Outcome", "Problem"].map((text) => el("th", { text }))),
      ),
      this.body,
    );
    const close = el("button", { type: "button", class: "roster-import-close", text: "Close" });
    this.dialog = el(
      "dialog",
      { class: "roster-import-dialog", "aria-labelledby": "roster-import-title" },
      el("h2", { id: "roster-import-title", text: "Roster import" }),
      this.summary,
      this.note,
      el("div", { class: "roster-import-scroll" }, this.table),
      close,
    );
    container.append(this.button, this.input, this.dialog);
    this.button.addEventListener("click", () => this.input.click());
    this.input.addEventListener("change", () => this.upload());
    close.addEventListener("click", () => this.dialog.close());
  }

  async upload() {
    const file = this.input.files?.[0];
    this.input.value = "";
    const classId = this.classId();
    if (!file) return;
    if (classId === null) {
      this.show("Choose a class first, then import its roster.");
      return;
    }
    this.button.disabled = true;
    this.show(`Importing ${file.name}…`);
    try {
      const report = await request(rosterImportURL(classId), {
        method: "POST",
        body: new Blob([file], { type: "text/csv" }),
      });
      this.show(summarize(report), report);
      this.onImported(report);
    } catch (error) {
      this.show(`The roster was not imported: ${error.message}`);
    } finally {
      this.button.disabled = false;
    }
  }

  show(text, report = null) {
    setText(this.summary, text);
    this.summary.dataset.outcome = report ? (report.errors ? "errors" : "ok") : "failed";
    setText(this.note, report ? ignoredNote(report) : "");
    this.body.replaceChildren(
      ...(report ? orderedRows(report) : []).map((row) =>
        el(
          "tr",
          { "data-outcome": row.outcome },
          el("td", { text: row.row }),
          el("td", { text: row.email ?? "" }),
          el("td", { text: OUTCOME_LABELS[row.outcome] ?? row.outcome }),
          el("td", { text: row.error ?? "" }),
        ),
      ),
    );
    this.table.hidden = !report || report.results.length === 0;
    if (!this.dialog.open) this.dialog.showModal();
  }
}
