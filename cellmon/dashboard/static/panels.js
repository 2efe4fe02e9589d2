// The side panels: who needs attention, the per-cell heat map, the activity timeline.

import { cellLabel } from "./roster.js";
import { clockTime, el, setText, setTitle, svg } from "./dom.js";
import { displayName, formatDuration, fullIdentity, helpWait, needingAttention } from "./rules.js";

export class AttentionView {
  constructor(list, { onResolve, onSelect }) {
    this.list = list;
    this.onResolve = onResolve;
    this.onSelect = onSelect;
    this.items = new Map();
  }

  clear() {
    this.list.replaceChildren();
    this.items.clear();
  }

  // `labels`: the names to show (rules.js distinctNames), so that namesakes differ.
  render(students, now, labels) {
    const wanted = needingAttention(students);
    const keep = new Set(wanted.map((student) => student.id));
    for (const [id, item] of this.items) {
      if (!keep.has(id)) {
        item.root.remove();
        this.items.delete(id);
      }
    }
    wanted.forEach((student, position) => {
      let item = this.items.get(student.id);
      if (!item) {
        item = this.createItem(student.id);
        this.items.set(student.id, item);
      }
      this.fill(item, student, now, labels.get(student.id) ?? displayName(student));
      if (this.list.children[position] !== item.root) {
        this.list.insertBefore(item.root, this.list.children[position] ?? null);
      }
    });
    return wanted.length;
  }

  tick(students, now) {
    for (const [id, item] of this.items) {
      const student = students.get(id);
      if (student) this.fillClock(item, student, now);
    }
  }

  createItem(id) {
    const parts = {
      kind: el("span", { class: "attention-kind" }),
      name: el("span", { class: "attention-name" }),
      wait: el("span", { class: "attention-wait" }),
      mail: el("div", { class: "attention-mail" }),
      where: el("div", { class: "attention-where" }),
      error: el("code", { class: "attention-error" }),
      button: el("button", { type: "button", class: "handled", text: "Mark handled" }),
    };
    const root = el(
      "li",
      { class: "attention-item", "data-student-id": id },
      el("div", { class: "attention-head" }, parts.kind, parts.name, parts.wait),
      el("div", { class: "attention-body" }, el("div", { class: "attention-lines" }, parts.mail, parts.where), parts.button),
      parts.error,
    );
    parts.button.addEventListener("click", (event) => {
      event.stopPropagation();
      parts.button.disabled = true;
      setText(parts.button, "Marking…");
      this.onResolve(id).finally(() => {
        parts.button.disabled = false;
        setText(parts.button, "Mark handled");
      });
    });
    root.addEventListener("click", () => this.onSelect(id));
    return { root, ...parts };
  }

  fill(item, student, now, label) {
    if (item.root.dataset.kind !== student.state) item.root.dataset.kind = student.state;
    setText(item.kind, student.state === "help" ? "Help" : "Stuck");
    setText(item.name, label);
    setTitle(item.name, fullIdentity(student));
    const mail = [student.name ? student.email : "", student.team_name].filter(Boolean).join(" · ");
    setText(item.mail, mail);
    setTitle(item.mail, mail);
    const cell = student.state === "stuck" ? student.stuck_on : student.current;
    const streak = student.state === "stuck" ? `${student.stuck_on.consecutive_errors} errors in a row` : "";
    setText(item.where, [cell ? cellLabel(cell) : "", streak].filter(Boolean).join(" · "));
    const error = student.state === "stuck" ? student.stuck_on.last_error_message : null;
    setText(item.error, error ?? "");
    setTitle(item.error, error ?? "");
    item.error.hidden = !error;
    item.button.hidden = student.state !== "help";
    this.fillClock(item, student, now);
  }

  fillClock(item, student, now) {
    if (student.state === "help") {
      const wait = helpWait(student, now);
      setText(item.wait, wait && `waiting ${wait}`);
    } else if (student.state === "stuck") {
      // Since the latest failed run: how long they have been on their own with it.
      setText(item.wait, student.lastActivity === null ? "" : formatDuration(now - student.lastActivity));
    }
  }
}

// The heat map: one row per cell, the bar's length the share of the class that ran it, its red
// part the share that met errors; the row's tint grows with the share of its runners in error.
export class HeatmapView {
  constructor(container, picker) {
    this.container = container;
    this.picker = picker;
    this.selected = null;
    picker.addEventListener("change", () => {
      this.selected = Number(picker.value) || null;
      this.render(this.data);
    });
  }

  clear() {
    this.data = null;
    this.selected = null;
    this.picker.replaceChildren();
    this.container.replaceChildren();
  }

  render(data) {
    this.data = data;
    if (!data) return;
    const notebooks = data.notebooks;
    if (!notebooks.some((notebook) => notebook.notebook_id === this.selected)) {
      // Default to the notebook with the most recent trouble, else the busiest one.
      const busiest = [...notebooks].sort((a, b) => weight(b) - weight(a))[0];
      this.selected = busiest ? busiest.notebook_id : null;
    }
    this.picker.replaceChildren(
      ...notebooks.map((notebook) =>
        el("option", {
          value: notebook.notebook_id,
          text: notebook.path,
          selected: notebook.notebook_id === this.selected,
        }),
      ),
    );
    this.picker.hidden = notebooks.length === 0;
    const notebook = notebooks.find((each) => each.notebook_id === this.selected);
    if (!notebook) {
      this.container.replaceChildren(el("p", { class: "empty", text: "No cell has been run in this class yet." }));
      return;
    }
    const classSize = Math.max(1, data.students);
    const rows = notebook.cells.map((cell) => this.row(cell, classSize));
    this.container.replaceChildren(
      el(
        "div",
        { class: "heat-legend" },
        el("span", { class: "swatch ran" }),
        "ran",
        el("span", { class: "swatch failed" }),
        "met errors",
        el("span", { class: "swatch stuck" }),
        "stuck now",
        el("span", { class: "heat-legend-counts", text: "with errors / ran" }),
      ),
      ...rows,
    );
  }

  row(cell, classSize) {
    const ran = cell.students / classSize;
    const failed = cell.students_with_errors / classSize;
    const heat = cell.students ? cell.students_with_errors / cell.students : 0;
    const index = cell.cell_index ?? "?";
    // Widths go through the CSSOM: the page's CSP refuses inline style attributes.
    const ranBar = el("span", { class: "heat-ran" });
    ranBar.style.width = `${(ran * 100).toFixed(1)}%`;
    const failedBar = el("span", { class: "heat-failed" });
    failedBar.style.width = `${(failed * 100).toFixed(1)}%`;
    const stuck = el("span", { class: "heat-stuck", text: cell.students_stuck ? `${cell.students_stuck} stuck` : "" });
    const message = el("div", { class: "heat-error", text: cell.latest_error_message ?? "" });
    const root = el(
      "div",
      {
        class: "heat-row",
        "data-cell-index": index,
        "data-students": cell.students,
        "data-students-with-errors": cell.students_with_errors,
        "data-students-stuck": cell.students_stuck,
        title: `cell ${index} (${cell.client_cell_id}): ${cell.students} ran, ${cell.students_with_errors} met errors, ${cell.executions} runs, ${cell.errors} errors`,
      },
      el("span", { class: "heat-index", text: `#${index}` }),
      el("div", { class: "heat-bar" }, ranBar, failedBar),
      el("span", { class: "heat-counts", text: `${cell.students_with_errors}/${cell.students}` }),
      stuck,
      message,
    );
    root.style.setProperty("--heat", heat.toFixed(3));
    return root;
  }
}

function weight(notebook) {
  return notebook.cells.reduce((sum, cell) => sum + cell.students_stuck * 1000 + cell.executions, 0);
}

// The timeline: executions per minute as bars, errors per minute as the red part of each bar.
const WIDTH = 600;
const HEIGHT = 150;
const PAD = { top: 12, right: 8, bottom: 20, left: 34 };

export class TimelineView {
  constructor(chart, summary) {
    this.chart = chart;
    this.summary = summary;
    chart.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    chart.setAttribute("preserveAspectRatio", "none");
  }

  clear() {
    this.data = null;
    this.chart.replaceChildren();
    setText(this.summary, "");
  }

  // A live execution counts at once in the current minute; the next read-out corrects it.
  count(at, error) {
    const buckets = this.data?.buckets;
    if (!buckets?.length) return false;
    const width = this.data.interval_seconds * 1000;
    const index = Math.floor((at - Date.parse(buckets[0].start)) / width);
    const bucket = buckets[index];
    if (!bucket) return false;
    bucket.executions += 1;
    if (error) bucket.errors += 1;
    return true;
  }

  render(data) {
    this.data = data;
    if (!data) return;
    const buckets = data.buckets;
    const top = Math.max(4, ...buckets.map((bucket) => bucket.executions));
    const plotWidth = WIDTH - PAD.left - PAD.right;
    const plotHeight = HEIGHT - PAD.top - PAD.bottom;
    const step = plotWidth / Math.max(1, buckets.length);
    const y = (value) => PAD.top + plotHeight - (value / top) * plotHeight;
    const nodes = [];
    for (const fraction of [0, 0.5, 1]) {
      const value = Math.round(top * fraction);
      nodes.push(svg("line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }));
      nodes.push(svg("text", { class: "axis", x: PAD.left - 4, y: y(value) + 3, "text-anchor": "end", text: value }));
    }
    buckets.forEach((bucket, index) => {
      const x = PAD.left + index * step + step * 0.12;
      const width = Math.max(1, step * 0.76);
      if (bucket.executions) {
        nodes.push(svg("rect", { class: "bar-runs", x, width, y: y(bucket.executions), height: y(0) - y(bucket.executions) }));
      }
      if (bucket.errors) {
        const errors = Math.min(bucket.errors, top);
        nodes.push(svg("rect", { class: "bar-errors", x, width, y: y(errors), height: y(0) - y(errors) }));
      }
      const lastLabel = index === buckets.length - 1;
      if ((index % 10 === 0 && buckets.length - index > 5) || lastLabel) {
        const anchor = lastLabel ? "end" : "middle";
        const at = lastLabel ? x + width : x + width / 2;
        nodes.push(svg("text", { class: "axis", x: at, y: HEIGHT - 5, "text-anchor": anchor, text: clockTime(new Date(bucket.start)) }));
      }
    });
    this.chart.replaceChildren(...nodes);
    const runs = buckets.reduce((sum, bucket) => sum + bucket.executions, 0);
    const errors = buckets.reduce((sum, bucket) => sum + bucket.errors, 0);
    const last = buckets[buckets.length - 1];
    setText(
      this.summary,
      `${runs} runs, ${errors} errors in ${buckets.length} min · this minute ${last ? last.executions : 0} runs`,
    );
  }
}
