"""The lesson the dashboard benchmark plays: who sends which event when.

Background students run the cells of one notebook in turn and now and then a run fails, never
a third time in a row on one cell; the students kept for samples do nothing until their turn,
then get stuck (STUCK_AFTER_ERRORS failed runs of one cell) or ask for help (a `help` event,
repeated as the extension repeats it while its toggle is on).
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.events import student_email
from cellmon.events.batch import HELP_REPEAT_SECONDS, STUCK_AFTER_ERRORS

# Background students fail a run now and then: often enough to look like a class.
ERROR_RATIO = 0.08
CELLS = 8


@dataclass
class Sample:
    kind: str  # "stuck" or "help"
    student: int  # index in the roster
    phase: int
    answered_at: float | None = None  # epoch ms: the answer to the POST that makes it so


@dataclass
class Posted:
    statuses: Counter[int] = field(default_factory=Counter)
    executions: int = 0
    errors: int = 0


class Lesson:
    """The events of the run, in the order they are due. Background students run the cells
    of one notebook in turn; the students kept for samples do nothing until their turn."""

    def __init__(self, students: int, sample_students: int, rng: random.Random) -> None:
        self.rng = rng
        self.background = students - sample_students
        self.runs: Counter[int] = Counter()
        self.streaks: Counter[tuple[int, int]] = Counter()
        # (when, tie-breaker, event, the sample it completes, repeated every so many seconds)
        self.due: list[tuple[float, int, dict[str, Any], Sample | None, float | None]] = []
        self.order = itertools.count()
        self.sessions = {n: str(uuid.uuid4()) for n in range(students)}

    def event(self, student: int, event_type: str, **fields: Any) -> dict[str, Any]:
        return {
            "eventId": str(uuid.uuid4()),
            "eventType": event_type,
            "eventTime": _client_time(),
            "emailAddress": student_email(student),
            "userName": f"テスト学生{student:05d}",
            "teamName": f"チーム{student % 12 + 1}",
            "sessionId": self.sessions[student],
            "notebookPath": "lessons/week1.ipynb",
            **fields,
        }

    def run(self, student: int, cell: int, failed: bool) -> dict[str, Any]:
        self.runs[student] += 1
        fields: dict[str, Any] = {
            "cellId": f"cell-{cell}",
            "cellIndex": cell,
            "cellType": "code",
            "code": "1/0" if failed else "x = 2 + 2\nx",
            "executionCount": self.runs[student],
            "hasError": failed,
            "result": "ZeroDivisionError: division by zero" if failed else "4",
            "executionDurationMs": self.rng.randint(1, 400),
        }
        if failed:
            fields["errorMessage"] = "ZeroDivisionError: division by zero"
        return self.event(student, "cell_executed", **fields)

    def background_run(self) -> dict[str, Any]:
        student = self.rng.randrange(self.background)
        cell = self.runs[student] % CELLS
        streak = self.streaks[(student, cell)]
        failed = streak + 1 < STUCK_AFTER_ERRORS and self.rng.random() < ERROR_RATIO
        self.streaks[(student, cell)] = streak + 1 if failed else 0
        return self.run(student, cell, failed)

    def plan(
        self,
        at: float,
        event: dict[str, Any],
        sample: Sample | None = None,
        repeat: float | None = None,
    ) -> None:
        heapq.heappush(self.due, (at, next(self.order), event, sample, repeat))

    def plan_stuck(self, sample: Sample, at: float) -> None:
        """Failed runs of one cell, 0.4 s apart: the last makes the student stuck."""
        for attempt in range(STUCK_AFTER_ERRORS):
            last = attempt == STUCK_AFTER_ERRORS - 1
            event = self.run(sample.student, CELLS, failed=True)
            self.plan(at + 0.4 * attempt, event, sample if last else None)

    def plan_help(self, sample: Sample, at: float) -> None:
        """A help request, repeated as the extension does while its toggle is on (until the
        load ends)."""
        repeat = HELP_REPEAT_SECONDS.total_seconds()
        self.plan(at, self.event(sample.student, "help"), sample, repeat)

    def next(self, now: float) -> tuple[dict[str, Any], Sample | None]:
        if self.due and self.due[0][0] <= now:
            at, _order, event, sample, repeat = heapq.heappop(self.due)
            if repeat is not None:
                self.plan(at + repeat, event, None, repeat)
            # Planned ahead, stamped as the client would stamp it: when it is sent.
            return {**event, "eventId": str(uuid.uuid4()), "eventTime": _client_time()}, sample
        return self.background_run(), None


def _client_time() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
