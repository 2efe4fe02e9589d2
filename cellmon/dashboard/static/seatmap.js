// The seat map: the whole lecture hall on one screen, one small cell per student in a fixed
// order (by name), coloured by state; help and stuck also carry a mark and an outline, so
// that they stand out without colour. Hovering, focusing or clicking a cell shows who it is
// in the detail card; the arrow keys move between cells (one cell is in the tab order).

import { el, setText, setTitle } from "./dom.js";
import { cellLabel } from "./roster.js";
import { displayName, formatAgo, fullIdentity, helpWait, rosterOrder } from "./rules.js";

const STATE_WORDS = { help: "asks for help", stuck: "stuck", active: "active", idle: "idle" };

export class SeatMapView {
  constructor(container, detail) {
    this.container = container;
    this.detail = detail;
    this.cells = new Map();
    this.order = [];
    this.students = new Map();
    this.labels = new Map();
    this.shownId = null; // whose details the card shows
    this.pinnedId = null; // chosen by a click or a key: stays until another is chosen
    this.focusId = null; // the cell in the tab order
    this.clockFace = 0; // the instant the card's clock texts show (app.js)
    this.detailParts = {
      name: el("div", { class: "seat-detail-name" }),
      mail: el("div", { class: "seat-detail-mail" }),
      state: el("div", { class: "seat-detail-state" }),
      cell: el("div", { class: "seat-detail-cell" }),
      error: el("code", { class: "seat-detail-error" }),
    };
    const parts = this.detailParts;
    detail.replaceChildren(parts.name, parts.mail, parts.state, parts.cell, parts.error);
    container.addEventListener("mouseover", (event) => {
      const id = this.idOf(event.target);
      if (id !== null) this.show(id);
    });
    container.addEventListener("mouseleave", () => this.show(this.pinnedId));
    container.addEventListener("focusin", (event) => {
      const id = this.idOf(event.target);
      if (id !== null) this.show(id);
    });
    container.addEventListener("click", (event) => {
      const id = this.idOf(event.target);
      if (id !== null) this.choose(id);
    });
    container.addEventListener("keydown", (event) => this.key(event));
  }

  idOf(node) {
    const cell = node.closest?.(".seat");
    return cell ? Number(cell.dataset.studentId) : null;
  }

  clear() {
    this.container.replaceChildren();
    this.cells.clear();
    this.order = [];
    this.shownId = this.pinnedId = this.focusId = null;
    this.show(null);
  }

  // Bring the cells of `ids` up to date with their students.
  update(students, ids, now, labels) {
    this.students = students;
    this.labels = labels;
    this.clockFace = now;
    for (const id of ids) {
      const student = students.get(id);
      if (!student) {
        this.cells.get(id)?.remove();
        this.cells.delete(id);
        if (this.pinnedId === id) this.pinnedId = null;
        continue;
      }
      let cell = this.cells.get(id);
      if (!cell) {
        cell = el("div", { class: "seat", role: "button", tabindex: -1, "data-student-id": id });
        this.cells.set(id, cell);
      }
      if (cell.dataset.state !== student.state) cell.dataset.state = student.state;
      setTitle(cell, `${labels.get(id) ?? displayName(student)}: ${STATE_WORDS[student.state]}`);
      if (id === this.shownId) this.fillDetail(student, now);
    }
    if (this.shownId !== null && !students.has(this.shownId)) this.show(this.pinnedId);
  }

  // Seats keep their places (by name) whatever happens; `visible` dims those the filter and
  // the search leave out rather than moving everyone. Answers how many match.
  arrange(students, visible) {
    const ids = rosterOrder(students, "name").map((student) => student.id);
    if (ids.length !== this.order.length || ids.some((id, index) => id !== this.order[index])) {
      this.container.replaceChildren(...ids.map((id) => this.cells.get(id)));
      this.order = ids;
    }
    if (this.focusId === null || !this.cells.has(this.focusId)) this.setFocusable(ids[0] ?? null);
    let shown = 0;
    for (const id of ids) {
      const match = visible(students.get(id));
      const dim = String(!match);
      const cell = this.cells.get(id);
      if (cell.dataset.dim !== dim) cell.dataset.dim = dim;
      if (match) shown += 1;
    }
    return shown;
  }

  tick(now) {
    this.clockFace = now;
    const student = this.students.get(this.shownId);
    if (student) this.fillDetail(student, now);
  }

  setFocusable(id) {
    if (this.focusId !== null) this.cells.get(this.focusId)?.setAttribute("tabindex", "-1");
    this.focusId = id;
    if (id !== null) this.cells.get(id)?.setAttribute("tabindex", "0");
  }

  choose(id) {
    this.pinnedId = id;
    this.setFocusable(id);
    for (const cell of this.container.querySelectorAll(".seat[aria-pressed]")) cell.removeAttribute("aria-pressed");
    this.cells.get(id)?.setAttribute("aria-pressed", "true");
    this.show(id);
  }

  show(id) {
    this.shownId = id;
    const student = id === null ? undefined : this.students.get(id);
    this.detail.hidden = !student;
    if (student) this.fillDetail(student, this.clockFace);
  }

  fillDetail(student, now) {
    const parts = this.detailParts;
    setText(parts.name, this.labels.get(student.id) ?? displayName(student));
    setText(parts.mail, fullIdentity(student));
    const wait = student.state === "help" ? helpWait(student, now) : "";
    const seen = student.lastActivity === null ? "never active" : `last active ${formatAgo(now - student.lastActivity)}`;
    const stuck = student.state === "stuck" ? `${student.stuck_on.consecutive_errors} errors in a row` : "";
    setText(parts.state, [STATE_WORDS[student.state], wait && `waiting ${wait}`, stuck, seen].filter(Boolean).join(" · "));
    this.detail.dataset.state = student.state;
    const cell = student.state === "stuck" ? student.stuck_on : student.current;
    setText(parts.cell, cell ? `${cellLabel(cell)} · ${student.executions} runs, ${student.errors} errors` : "no cell run yet");
    const error = student.state === "stuck" ? student.stuck_on.last_error_message : null;
    setText(parts.error, error ?? "");
    parts.error.hidden = !error;
  }

  // Arrows move through the seats as they are laid out, Home/End to the first and last,
  // Enter or Space chooses, Escape lets go of the chosen one.
  key(event) {
    const id = this.idOf(event.target);
    if (id === null) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.choose(id);
      return;
    }
    if (event.key === "Escape") {
      this.pinnedId = null;
      this.show(id);
      return;
    }
    const columns = getComputedStyle(this.container).gridTemplateColumns.split(" ").length;
    const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns };
    const index = this.order.indexOf(id);
    let next = null;
    if (event.key in steps) next = index + steps[event.key];
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = this.order.length - 1;
    if (next === null || next < 0 || next >= this.order.length) return;
    event.preventDefault();
    const target = this.order[next];
    this.setFocusable(target);
    this.cells.get(target).focus();
  }
}
