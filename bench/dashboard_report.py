"""The dashboard benchmark's figures as a section of docs/benchmarks.md, with its targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.stats import percentile

# The targets of issue 11.
TARGET_ATTENTION_MS = 2000
TARGET_PAGE_SHARE = 0.25
TARGET_PAGE_SHARE_RATE = 100


@dataclass
class PhaseResult:
    rate: int
    seconds: float
    posted: int
    stuck_ms: list[float]
    help_ms: list[float]
    missed: dict[str, int]
    main_thread: dict[str, float]  # share of one core: task, script, layout, style
    long_tasks: int
    long_task_max_ms: float
    clicks_ms: list[float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "seconds": self.seconds,
            "posted": self.posted,
            "stuck": _spread(self.stuck_ms),
            "help": _spread(self.help_ms),
            "missed": self.missed,
            "main_thread": {key: round(value, 3) for key, value in self.main_thread.items()},
            "long_tasks": self.long_tasks,
            "long_task_max_ms": round(self.long_task_max_ms),
            "clicks": _spread(self.clicks_ms),
        }


def _spread(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {
        "n": len(values),
        "p50": round(percentile(values, 0.5), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(max(values), 1),
    }


def section(figures: dict[str, Any], header: str) -> str:
    """The run's figures for docs/benchmarks.md (between its `dashboard` markers)."""
    lines = [
        header,
        f"- Roster: {figures['students']:,} students enrolled with one `POST .../roster` "
        f"in {figures['import_ms']:,} ms",
        "- Answers to the events' POSTs: "
        + ", ".join(f"{count:,} × {status}" for status, count in figures["statuses"].items())
        + f"; queue drained after the load: {'yes' if figures['drained'] else 'no'}",
        "",
        "| events/s | posted | stuck → shown, ms: p50 / p99 / max (n) | help → shown, ms: "
        "p50 / p99 / max (n) | page main thread, % of a core (script / layout / style) | "
        "long tasks (longest) | filter click → paint, ms: p50 / max (n) |",
        "|---:|---:|---|---|---|---|---|",
    ]
    for phase in figures["phases"]:
        share = phase["main_thread"]
        lines.append(
            f"| {phase['rate']} | {phase['posted']:,} in {phase['seconds']:.0f} s | "
            f"{_spread_text(phase['stuck'], phase['missed']['stuck'])} | "
            f"{_spread_text(phase['help'], phase['missed']['help'])} | "
            f"{share['task']:.0%} ({share['script']:.0%} / {share['layout']:.0%} / "
            f"{share['style']:.0%}) | {phase['long_tasks']} ({phase['long_task_max_ms']:,} ms) | "
            f"{_ms(phase['clicks']['p50'])} / {_ms(phase['clicks']['max'])} "
            f"({phase['clicks']['n']}) |"
        )
    agreement = figures["agreement"]
    names = ("students", "active", "idle", "stuck", "help", "executions", "errors")
    lines += [
        "",
        "After the load, once the queue drained:",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for label, values in (
        ("page (`[data-total]`)", agreement["page"]),
        ("API (`GET /progress/classes/{id}`)", agreement["api"]),
        ("posted", agreement["posted"]),
    ):
        lines.append(
            f"| {label} | "
            + " | ".join(f"{values[name]:,}" if name in values else "" for name in names)
            + " |"
        )
    samples = [
        value
        for phase in figures["phases"]
        for kind in ("stuck", "help")
        for value in (phase[kind]["max"],)
    ]
    missed = sum(sum(phase["missed"].values()) for phase in figures["phases"])
    worst = max((value for value in samples if value is not None), default=None)
    attention_met = missed == 0 and worst is not None and worst < TARGET_ATTENTION_MS
    share_at_target = [
        phase["main_thread"]["task"]
        for phase in figures["phases"]
        if phase["rate"] == TARGET_PAGE_SHARE_RATE
    ]
    share_met = bool(share_at_target) and max(share_at_target) < TARGET_PAGE_SHARE
    lines += [
        "",
        f"- the enrolled roster (`GET /classes/{{id}}/students`): {agreement['enrolled']:,}; "
        f"page, API and what was posted agree: {'**yes**' if agreement['agree'] else '**no**'}",
        f"- every stuck and help sample shown within {TARGET_ATTENTION_MS:,} ms at every rate: "
        f"slowest {_ms(worst)} ms, {missed} never shown — "
        f"{'**met**' if attention_met else '**not met**'}",
        f"- page under {TARGET_PAGE_SHARE:.0%} of a core at {TARGET_PAGE_SHARE_RATE} events/s: "
        + (f"{max(share_at_target):.0%}" if share_at_target else "-")
        + f" — {'**met**' if share_met else '**not met**'}",
    ]
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _spread_text(spread: dict[str, Any], missed: int) -> str:
    text = f"{_ms(spread['p50'])} / {_ms(spread['p99'])} / {_ms(spread['max'])} ({spread['n']})"
    return text + (f", {missed} never shown" if missed else "")
