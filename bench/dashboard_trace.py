"""Where the page's main thread goes: a DevTools trace of the dashboard under load, summed by
event name (`python -m bench dashboard --trace`).

`Performance.getMetrics` splits the main thread's time into script, layout and style only;
painting, compositing, garbage collection, observers and timers are in its total but not
named. A trace names them. Each event's *self* time (its duration less that of the events
nested in it) is summed by name over the page's renderer main thread, so the names add up
to the time the thread was busy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson

CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "v8",
    "blink.user_timing",
    "toplevel",
]
MAIN_THREAD = "CrRendererMain"


@dataclass(frozen=True)
class TraceSummary:
    wall_ms: float
    busy_ms: float  # the top-level events' time
    self_ms: dict[str, float]  # event name -> self time

    def lines(self, top: int = 20) -> list[str]:
        def share(ms: float) -> str:
            return f"{100 * ms / self.wall_ms:5.1f}%"

        rows = sorted(self.self_ms.items(), key=lambda item: -item[1])[:top]
        return [
            f"main thread busy {share(self.busy_ms)} of a core over {self.wall_ms / 1000:.1f} s "
            "(self time by event name, share of a core):",
            *(f"  {share(ms)}  {ms:9.0f} ms  {name}" for name, ms in rows),
        ]


def summarize(trace: bytes) -> TraceSummary:
    events: list[dict[str, Any]] = orjson.loads(trace)["traceEvents"]
    mains = {
        (event["pid"], event["tid"])
        for event in events
        if event.get("ph") == "M"
        and event.get("name") == "thread_name"
        and event["args"].get("name") == MAIN_THREAD
    }
    spans: dict[tuple[int, int], list[tuple[float, float, str]]] = defaultdict(list)
    for event in events:
        thread = (event.get("pid"), event.get("tid"))
        if thread in mains and event.get("ph") == "X" and "dur" in event:
            spans[thread].append((event["ts"], event["dur"], event["name"]))
    if not spans:
        raise RuntimeError("the trace holds no event of a renderer's main thread")
    # The page's renderer is the busiest one (others: about:blank, the login page's).
    thread_spans = max(spans.values(), key=lambda items: sum(dur for _, dur, _ in items))
    thread_spans.sort(key=lambda item: (item[0], -item[1]))
    self_us: dict[str, float] = defaultdict(float)
    busy_us = 0.0
    stack: list[tuple[float, str]] = []  # (end, name) of the events still open
    for start, duration, name in thread_spans:
        while stack and stack[-1][0] <= start:
            stack.pop()
        if stack:
            self_us[stack[-1][1]] -= duration
        else:
            busy_us += duration
        self_us[name] += duration
        stack.append((start + duration, name))
    first = thread_spans[0][0]
    last = max(start + duration for start, duration, _ in thread_spans)
    return TraceSummary(
        wall_ms=(last - first) / 1000,
        busy_ms=busy_us / 1000,
        self_ms={name: us / 1000 for name, us in self_us.items()},
    )
