"""A lesson as a pure model: each student's events, in the published extension's wire format
(../shared/spec/client-wire-format.md), at seconds into the lesson, deterministic for a seed.

The shape of a real class: a student runs a cell every 10–20 s and moves on when it works; a
run fails now and then (and is run again); a few students get stuck on a cell, failing it
STUCK_AFTER_ERRORS times or more in a row for minutes, and most of those ask for help (the
extension sends `help` at once and every HELP_REPEAT_SECONDS while the toggle is on, then
`help_stop`); a few ask a question without being stuck; some join late; and when the
instructor says "run it now" every student present runs the same cell within seconds.
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cellmon.events.batch import HELP_REPEAT_SECONDS, STUCK_AFTER_ERRORS
from cellmon.simulate.roster import SimulatedStudent, make_roster

NOTEBOOK_PATH = "lessons/week1_pandas.ipynb"
RUN_INTERVAL_SECONDS = (10.0, 20.0)
ERROR_RATIO = 0.12
# The instructor says "run it now" this often; students react within this many seconds.
BURST_EVERY_SECONDS = 180.0
BURST_REACTION_SECONDS = (1.0, 8.0)
# The extension waits this long (at random) before each send, to spread the load.
SEND_DELAY_SECONDS = (0.2, 2.2)
HELP_REPEAT = HELP_REPEAT_SECONDS.total_seconds()
_CELL_IDS = uuid.UUID("6b0f3c52-5f1d-4a63-9f55-1c3e2b7d9a10")


@dataclass(frozen=True, slots=True)
class LessonCell:
    cell_type: str  # "code" or "markdown"
    source: str
    result: str = ""  # text/plain of a successful run ("" for statements and markdown)
    error: str = ""  # "EName: evalue" of a failed run

    @property
    def is_code(self) -> bool:
        return self.cell_type == "code"


NOTEBOOK = (
    LessonCell("markdown", "# Week 1: sales data with pandas"),
    LessonCell("code", "import pandas as pd", "", "ModuleNotFoundError: No module named 'pandas'"),
    LessonCell(
        "code",
        "df = pd.read_csv('data/sales.csv')\ndf.head()",
        "   region  price  sold\n0  東京  120.0    3",
        "FileNotFoundError: [Errno 2] No such file or directory: 'data/sales.csv'",
    ),
    LessonCell("markdown", "## 1. Clean the prices"),
    LessonCell(
        "code",
        "df['price'] = df['price'].astype(float)",
        "",
        "ValueError: could not convert string to float: 'abc'",
    ),
    LessonCell(
        "code",
        "df.groupby('region')['price'].mean()",
        "region\n大阪    98.5\n東京   120.0",
        "KeyError: 'region'",
    ),
    LessonCell(
        "code",
        "total = df['price'].sum()\nprint('total: ' + total)",
        "",
        'TypeError: can only concatenate str (not "float") to str',
    ),
    LessonCell("markdown", "## 2. Per month"),
    LessonCell(
        "code",
        "df['date'] = pd.to_datetime(df['date'])\nmonthly = df.resample('MS', on='date').sum()",
        "",
        "KeyError: 'date'",
    ),
    LessonCell(
        "code",
        "monthly['sold']",
        "date\n2025-01-01    412",
        "NameError: name 'monthly' is not defined",
    ),
    LessonCell(
        "code",
        "top = df.nlargest(5, 'price')\ntop",
        "   region  price  sold\n7  東京  310.0    1",
        "TypeError: nlargest() missing 1 required positional argument: 'columns'",
    ),
    LessonCell("markdown", "## 3. Exercise"),
    LessonCell(
        "code",
        "def mean(xs):\n    return sum(xs) / len(xs)\n\nmean(df['sold'].tolist())",
        "4.25",
        "ZeroDivisionError: division by zero",
    ),
    LessonCell(
        "code",
        "regions = sorted(df['region'].unique())\nregions[3]",
        "'福岡'",
        "IndexError: list index out of range",
    ),
    LessonCell(
        "code",
        "assert mean([1, 2, 3]) == 2, 'mean is wrong'",
        "",
        "AssertionError: mean is wrong",
    ),
)
CODE_CELLS = tuple(index for index, cell in enumerate(NOTEBOOK) if cell.is_code)


def cell_id(index: int) -> str:
    """The notebook's own cell id (nbformat 4.5): the same for every student's copy."""
    return str(uuid.uuid5(_CELL_IDS, f"{NOTEBOOK_PATH}#{index}"))


def wire_time(moment: datetime) -> str:
    """The extension's eventTime: ISO 8601 UTC with milliseconds, `…T03:21:45.123Z`."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """An event `at` seconds into the lesson, sent `send_delay` seconds after it happened."""

    at: float
    student: int
    send_delay: float
    fields: dict[str, Any]  # the wire event without its eventTime

    @property
    def event_type(self) -> str:
        event_type: str = self.fields["eventType"]
        return event_type

    def wire(self, happened: datetime) -> dict[str, Any]:
        """The event as the extension posts it, dated `happened`."""
        event_id, event_type = self.fields["eventId"], self.fields["eventType"]
        return {
            "eventId": event_id,
            "eventType": event_type,
            "eventTime": wire_time(happened),
            **self.fields,
        }


@dataclass(frozen=True, slots=True)
class Burst:
    """The instructor says "run it now": every student present runs `cell` from `at`."""

    at: float
    cell: int


@dataclass(frozen=True)
class Lesson:
    seed: int
    minutes: float
    students: tuple[SimulatedStudent, ...]
    bursts: tuple[Burst, ...]

    @property
    def duration(self) -> float:
        return self.minutes * 60

    def events(self) -> Iterator[PlannedEvent]:
        """Every student's events in the order they happen, made as they are consumed."""
        walks = (_Walk(self, student).events() for student in self.students)
        return heapq.merge(*walks, key=lambda event: event.at)


def plan_lesson(students: int, minutes: float, seed: int) -> Lesson:
    if students < 1:
        raise ValueError("a class has at least one student")
    if minutes <= 0:
        raise ValueError("a lesson lasts more than 0 minutes")
    duration = minutes * 60
    rng = random.Random(f"cellmon-simulate:{seed}")
    # Stuck on a cell they reach within the first half of the lesson at the slowest pace.
    reached = max(1, int(duration / 2 / RUN_INTERVAL_SECONDS[1]))
    stuck_cells = [index for index in CODE_CELLS if index < reached] or [CODE_CELLS[0]]
    roster = make_roster(rng, students, duration, stuck_cells)
    mean_interval = sum(RUN_INTERVAL_SECONDS) / 2
    bursts = []
    at = BURST_EVERY_SECONDS
    while at < duration:
        # The cell the class has about reached by then.
        reached_cell = min(len(NOTEBOOK) - 1, int(at / mean_interval))
        cell = max(index for index in CODE_CELLS if index <= max(reached_cell, CODE_CELLS[0]))
        bursts.append(Burst(at, cell))
        at += BURST_EVERY_SECONDS
    return Lesson(seed, minutes, roster, tuple(bursts))


class _Walk:
    """One student through the lesson: each event made when the merge asks for the next."""

    def __init__(self, lesson: Lesson, student: SimulatedStudent) -> None:
        self.lesson = lesson
        self.student = student
        self.rng = random.Random(f"cellmon-simulate:{lesson.seed}:{student.number}")
        self.session_id = self._uuid()
        self.execution_count = 0
        self.help_on = False
        self.next_help_repeat = 0.0
        # Events made ahead of the walk (help toggles, their repeats), by time.
        self.pending: list[tuple[float, int, PlannedEvent]] = []
        self.sequence = itertools.count()

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _event(self, at: float, event_type: str, **fields: Any) -> PlannedEvent:
        student = self.student
        return PlannedEvent(
            at=at,
            student=student.number,
            send_delay=self.rng.uniform(*SEND_DELAY_SECONDS),
            fields={
                "eventId": self._uuid(),
                "eventType": event_type,
                "emailAddress": student.email,
                "teamName": student.team,
                "userName": student.name,
                "sessionId": self.session_id,
                "notebookPath": NOTEBOOK_PATH,
                **fields,
            },
        )

    def _run(self, at: float, index: int, failed: bool) -> PlannedEvent:
        cell = NOTEBOOK[index]
        fields: dict[str, Any] = {
            "cellId": cell_id(index),
            "cellIndex": index,
            "cellType": cell.cell_type,
            "code": cell.source,
        }
        if cell.is_code:
            self.execution_count += 1
            fields["executionCount"] = self.execution_count
        fields["hasError"] = failed
        if failed:
            fields["errorMessage"] = cell.error
        fields["result"] = cell.error if failed else cell.result
        # A kernel's run time: mostly milliseconds, now and then seconds.
        fields["executionDurationMs"] = min(30_000, int(self.rng.lognormvariate(3.0, 1.3)))
        return self._event(at, "cell_executed", **fields)

    def _push(self, event: PlannedEvent) -> None:
        heapq.heappush(self.pending, (event.at, next(self.sequence), event))

    def _help(self, at: float, on: bool) -> None:
        """Switch the help toggle at `at`: `help` then, repeated until `help_stop`."""
        if on and not self.help_on:
            self.help_on, self.next_help_repeat = True, at + HELP_REPEAT
            self._push(self._event(at, "help"))
        elif not on and self.help_on:
            self._repeat_help(at)
            self.help_on = False
            self._push(self._event(at, "help_stop"))

    def _repeat_help(self, until: float) -> None:
        while self.help_on and self.next_help_repeat < until:
            self._push(self._event(self.next_help_repeat, "help"))
            self.next_help_repeat += HELP_REPEAT

    def _due(self, until: float) -> Iterator[PlannedEvent]:
        """The events made so far that happen before `until`, in time order."""
        self._repeat_help(until)
        while self.pending and self.pending[0][0] < until:
            yield heapq.heappop(self.pending)[2]

    def events(self) -> Iterator[PlannedEvent]:
        student, rng, end = self.student, self.rng, self.lesson.duration
        at = student.joins_at
        if at >= end:
            return
        yield self._event(at, "notebook_opened")
        # When the student reacts to each "run it now" still to come.
        bursts = [
            (burst.at + rng.uniform(*BURST_REACTION_SECONDS), burst.cell)
            for burst in self.lesson.bursts
            if burst.at > at
        ]
        current = 0  # the cell the student works on
        streaks = [0] * len(NOTEBOOK)  # errors in a row per cell
        stuck_since: float | None = None
        stuck_done = False
        if student.question_at is not None:
            self._help(student.question_at, on=True)
            self._help(student.question_at + student.question_seconds, on=False)
        last_run = at
        next_run = at + rng.uniform(2.0, 6.0)
        while True:
            burst = bursts[0] if bursts and bursts[0][0] < next_run else None
            # Never two runs within a second (the extension drops a re-run within 500 ms).
            at = max(burst[0], last_run + 1.0) if burst else next_run
            if at >= end:
                break
            yield from self._due(at)
            index = burst[1] if burst else current
            stuck_here = index == student.stuck_on and not stuck_done
            if stuck_here and stuck_since is None:
                stuck_since = at
            if stuck_here:
                assert stuck_since is not None
                failed = at < stuck_since + student.stuck_seconds
            elif NOTEBOOK[index].is_code:
                # Only a stuck student fails one cell STUCK_AFTER_ERRORS times in a row.
                failed = streaks[index] + 1 < STUCK_AFTER_ERRORS and rng.random() < ERROR_RATIO
            else:
                failed = False
            streaks[index] = streaks[index] + 1 if failed else 0
            yield self._run(at, index, failed)
            last_run = at
            reached_stuck = failed and streaks[index] == STUCK_AFTER_ERRORS
            if stuck_here and reached_stuck and student.asks_help_when_stuck:
                self._help(at + rng.uniform(2.0, 10.0), on=True)
            if stuck_here and not failed:
                stuck_done = True
                self._help(at + rng.uniform(1.0, 3.0), on=False)
            if burst:
                bursts.pop(0)
                next_run = max(next_run, at + 1.0)
                continue
            if not failed:
                current = current + 1 if current + 1 < len(NOTEBOOK) else rng.choice(CODE_CELLS)
            next_run = at + rng.uniform(*RUN_INTERVAL_SECONDS)
        yield from self._due(end)
