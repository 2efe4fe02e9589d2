// The roster: one tile per student, created once and then only patched. A lecture hall has
// 1,000 tiles and 100 events a second, so a change costs only its own tile: each is a
// fixed-size box laid out on its own (style.css: `contain`, `content-visibility`: one off
// screen is not laid out or painted at all), the clock's texts move only on the tiles the
// browser renders (and catch up when one scrolls in), and a change of order moves the few
// tiles that moved, not the whole list.

import { el, notebookName, setText, setTitle } from "./dom.js";
import { displayName, formatAgo, fullIdentity, orderMoves, rosterOrder, stateBadge } from "./rules.js";

function cellIndex(cell) {
  return cell.cell_index === null || cell.cell_index === undefined ? "?" : cell.cell_index;
}

export function cellLabel(cell) {
  if (!cell) return "";
  return `${notebookName(cell.notebook_path)} › cell ${cellIndex(cell)}`;
}

// Short enough for a tile: the cell number first, so that truncation only eats the name.
function shortCellLabel(cell) {
  return `#${cellIndex(cell)} · ${notebookName(cell.notebook_path).replace(/\.ipynb$/, "")}`;
}

export class RosterView {
  constructor(container, { onSelect }) {
    this.container = container;
    this.onSelect = onSelect;
    this.tiles = new Map();
    this.order = [];
    this.labels = new Map();
    this.students = new Map();
    this.clockFace = 0; // the instant the clock texts show (app.js)
    this.seen = new Set(); // ids of the tiles the browser renders: on (or near) the screen
  }

  clear() {
    this.container.replaceChildren();
    this.tiles.clear();
    this.order = [];
    this.seen.clear();
  }

  // `content-visibility: auto` tells when the browser starts or stops rendering a tile's
  // content (it does so a margin ahead of the screen): the one sign of which tiles are seen, so
  // that no observer of its own has to measure 1,000 tiles in every frame.
  rendered(id, skipped) {
    if (skipped) {
      this.seen.delete(id);
      return;
    }
    this.seen.add(id);
    const tile = this.tiles.get(id);
    const student = this.students.get(id);
    if (tile && student) this.fillClock(tile, student, this.clockFace);
  }

  // Bring the tiles of `ids` up to date with their students; `labels` are the names to show.
  update(students, ids, now, labels) {
    this.students = students;
    this.labels = labels;
    this.clockFace = now;
    for (const id of ids) {
      const student = students.get(id);
      if (!student) {
        this.tiles.get(id)?.root.remove();
        this.tiles.delete(id);
        this.seen.delete(id);
        continue;
      }
      let tile = this.tiles.get(id);
      if (!tile) {
        tile = this.createTile(student);
        this.tiles.set(id, tile);
      }
      this.fill(tile, student, now);
    }
  }

  // Only the texts that move with the clock, on the tiles that can be seen.
  tick(students, now) {
    this.clockFace = now;
    for (const id of this.seen) {
      const tile = this.tiles.get(id);
      const student = students.get(id);
      if (tile && student) this.fillClock(tile, student, now);
    }
  }

  createTile(student) {
    const parts = {
      name: el("span", { class: "tile-name" }),
      badge: el("span", { class: "tile-badge" }),
      mail: el("div", { class: "tile-mail" }),
      cell: el("div", { class: "tile-cell" }),
      runs: el("span", { class: "tile-runs" }),
      errors: el("span", { class: "tile-errors" }),
      seen: el("span", { class: "tile-seen" }),
    };
    const root = el(
      "article",
      { class: "tile", "data-student-id": student.id, "data-state": student.state, tabindex: 0 },
      el("div", { class: "tile-top" }, parts.name, parts.badge),
      parts.mail,
      parts.cell,
      el("div", { class: "tile-stats" }, parts.runs, parts.errors, parts.seen),
    );
    root.addEventListener("click", () => this.onSelect(student.id));
    root.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.onSelect(student.id);
      }
    });
    root.addEventListener("contentvisibilityautostatechange", (event) => this.rendered(student.id, event.skipped));
    return { root, ...parts };
  }

  fill(tile, student, now) {
    if (tile.root.dataset.state !== student.state) tile.root.dataset.state = student.state;
    setText(tile.name, this.labels.get(student.id) ?? displayName(student));
    const mail = student.name ? student.email : "";
    setText(tile.mail, [mail, student.team_name].filter(Boolean).join(" · "));
    const cell = student.current;
    setText(tile.cell, cell ? shortCellLabel(cell) : "no cell run yet");
    const status = cell ? cell.last_status : "none";
    if (tile.cell.dataset.status !== status) tile.cell.dataset.status = status;
    setText(tile.runs, `${student.executions} runs`);
    setText(tile.errors, `${student.errors} err`);
    const zero = String(student.errors === 0);
    if (tile.errors.dataset.zero !== zero) tile.errors.dataset.zero = zero;
    // Names, addresses and cells are cut to fit the tile: the tooltip has them whole.
    setTitle(tile.root, [fullIdentity(student), cell ? cellLabel(cell) : ""].filter(Boolean).join("\n"));
    this.fillClock(tile, student, now);
  }

  fillClock(tile, student, now) {
    setText(tile.badge, stateBadge(student, now));
    setText(tile.seen, student.lastActivity === null ? "never" : formatAgo(now - student.lastActivity));
  }

  // Put the tiles in the order of `sort` (rules.js), and hide those `visible` rejects; moves
  // only the tiles whose place changed. Answers how many are shown.
  arrange(students, sort, visible) {
    const sorted = rosterOrder(students, sort);
    const ids = sorted.map((student) => student.id);
    for (const [id, before] of orderMoves(this.order, ids)) {
      this.container.insertBefore(this.tiles.get(id).root, before === null ? null : this.tiles.get(before).root);
    }
    this.order = ids;
    let shown = 0;
    for (const student of sorted) {
      const hidden = !visible(student);
      const root = this.tiles.get(student.id).root;
      if (root.hidden !== hidden) root.hidden = hidden;
      if (!hidden) shown += 1;
    }
    return shown;
  }

  flash(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.root.hidden = false;
    tile.root.scrollIntoView({ block: "center", behavior: "smooth" });
    tile.root.classList.remove("flash");
    void tile.root.offsetWidth; // restart the animation
    tile.root.classList.add("flash");
    tile.root.focus({ preventScroll: true });
  }
}
