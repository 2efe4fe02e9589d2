// The roster: one tile per student, created once and then only patched, so that a class of
// 1,000 costs a handful of text changes per frame, not a re-render.

import { ago, el, notebookName, setText } from "./dom.js";
import { displayName, rosterOrder } from "./rules.js";

const STATE_LABELS = { help: "Help", stuck: "Stuck", active: "Active", idle: "Idle" };

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
  }

  clear() {
    this.container.replaceChildren();
    this.tiles.clear();
    this.order = [];
  }

  // Bring the tiles of `ids` up to date with their students.
  update(students, ids, now) {
    for (const id of ids) {
      const student = students.get(id);
      if (!student) {
        this.tiles.get(id)?.root.remove();
        this.tiles.delete(id);
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

  // Only the texts that move with the clock: "2m ago", how long a request has waited.
  tick(students, now) {
    for (const [id, tile] of this.tiles) {
      const student = students.get(id);
      if (student) this.fillClock(tile, student, now);
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
      { class: "tile", "data-student-id": student.id, tabindex: 0 },
      el("div", { class: "tile-top" }, parts.name, parts.badge),
      parts.mail,
      parts.cell,
      el("div", { class: "tile-stats" }, parts.runs, parts.errors, parts.seen),
    );
    root.addEventListener("click", () => this.onSelect(student.id));
    return { root, ...parts };
  }

  fill(tile, student, now) {
    tile.root.dataset.state = student.state;
    setText(tile.name, displayName(student));
    const mail = student.name ? student.email : "";
    setText(tile.mail, [mail, student.team_name].filter(Boolean).join(" · "));
    const cell = student.current;
    setText(tile.cell, cell ? shortCellLabel(cell) : "no cell run yet");
    tile.cell.dataset.status = cell ? cell.last_status : "none";
    setText(tile.runs, `${student.executions} runs`);
    setText(tile.errors, `${student.errors} err`);
    tile.errors.dataset.zero = String(student.errors === 0);
    tile.root.title = `${student.email}${student.team_name ? ` (${student.team_name})` : ""}`;
    this.fillClock(tile, student, now);
  }

  fillClock(tile, student, now) {
    let badge = STATE_LABELS[student.state];
    let short = "";
    if (student.state === "help" && student.helpSince !== null) {
      short = `?${Math.max(0, Math.floor((now - student.helpSince) / 60000))}m`;
      badge = `Help ${short.slice(1)}`;
    } else if (student.state === "stuck") {
      short = `×${student.stuck_on.consecutive_errors}`;
      badge = `Stuck ${short}`;
    }
    setText(tile.badge, badge);
    // The compact layout shows only this, to leave the name its room.
    if (tile.badge.dataset.short !== short) tile.badge.dataset.short = short;
    setText(tile.seen, student.lastActivity === null ? "never" : ago(now - student.lastActivity));
  }

  // Put the tiles in the order of `sort` (rules.js), and hide those `visible` rejects. DOM
  // nodes move only when the order really changed.
  arrange(students, sort, visible) {
    const sorted = rosterOrder(students, sort);
    const ids = sorted.map((student) => student.id);
    const same = ids.length === this.order.length && ids.every((id, i) => id === this.order[i]);
    if (!same) {
      const fragment = document.createDocumentFragment();
      for (const id of ids) fragment.append(this.tiles.get(id).root);
      this.container.append(fragment);
      this.order = ids;
    }
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
  }
}
