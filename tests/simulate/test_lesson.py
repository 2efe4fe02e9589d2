"""The simulated lesson: a real class's shape, in the extension's wire format, fixed by a seed."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache

import pytest

from cellmon.events.batch import STUCK_AFTER_ERRORS
from cellmon.events.schemas import EVENT_LIST
from cellmon.simulate import roster
from cellmon.simulate.lesson import (
    BURST_REACTION_SECONDS,
    ERROR_RATIO,
    HELP_REPEAT,
    NOTEBOOK,
    RUN_INTERVAL_SECONDS,
    Lesson,
    PlannedEvent,
    plan_lesson,
)

STUDENTS = 200
MINUTES = 10
ALWAYS_PRESENT = {
    "eventId",
    "eventType",
    "eventTime",
    "emailAddress",
    "userName",
    "teamName",
    "sessionId",
    "notebookPath",
}
WIRE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@cache
def lesson_of(seed: int) -> tuple[Lesson, tuple[PlannedEvent, ...]]:
    lesson = plan_lesson(STUDENTS, MINUTES, seed)
    return lesson, tuple(lesson.events())


def by_student(events: tuple[PlannedEvent, ...]) -> dict[int, list[PlannedEvent]]:
    grouped: dict[int, list[PlannedEvent]] = defaultdict(list)
    for event in events:
        grouped[event.student].append(event)
    return grouped


def runs(events: list[PlannedEvent]) -> list[PlannedEvent]:
    return [event for event in events if event.event_type == "cell_executed"]


def longest_error_run(events: list[PlannedEvent]) -> int:
    """The most errors in a row on one cell (a success on it ends its run)."""
    streaks: dict[str, int] = defaultdict(int)
    longest = 0
    for event in runs(events):
        cell = event.fields["cellId"]
        streaks[cell] = streaks[cell] + 1 if event.fields["hasError"] else 0
        longest = max(longest, streaks[cell])
    return longest


def test_a_seed_gives_the_same_lesson_and_another_seed_another() -> None:
    first = [(e.at, e.send_delay, e.fields) for e in plan_lesson(20, 3, 5).events()]
    again = [(e.at, e.send_delay, e.fields) for e in plan_lesson(20, 3, 5).events()]
    other = [(e.at, e.send_delay, e.fields) for e in plan_lesson(20, 3, 6).events()]
    assert first == again
    assert first != other
    ids = [fields["eventId"] for _, _, fields in first]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {fields["eventId"] for _, _, fields in other}


def test_events_come_in_time_order_in_the_extensions_wire_format() -> None:
    _, events = lesson_of(1)
    assert [event.at for event in events] == sorted(event.at for event in events)
    wire = [event.wire(datetime(2025, 1, 19, 3, 21, 45, 123456, UTC)) for event in events]
    EVENT_LIST.validate_python(wire)  # what the server's schema reads
    for event in wire:
        assert set(event) >= ALWAYS_PRESENT
        assert WIRE_TIME.match(event["eventTime"])
        assert event["eventTime"] == "2025-01-19T03:21:45.123Z"
        if event["eventType"] != "cell_executed":
            assert "cellId" not in event
            continue
        if event["cellType"] == "markdown":
            assert "executionCount" not in event
            assert event["hasError"] is False
        if event["hasError"]:
            assert re.match(r"^\w+: ", event["errorMessage"])
            assert event["result"] == event["errorMessage"]
        else:
            assert "errorMessage" not in event
        assert isinstance(event["executionDurationMs"], int)
    assert {event["eventType"] for event in wire} == {
        "notebook_opened",
        "cell_executed",
        "help",
        "help_stop",
    }


def test_each_student_runs_a_cell_every_10_to_20_seconds() -> None:
    lesson, events = lesson_of(1)
    shortest, longest = RUN_INTERVAL_SECONDS
    for student in lesson.students:
        times = [event.at for event in runs(by_student(events)[student.number])]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        # A "run it now" comes between two runs, never within a second of another.
        assert min(gaps) >= 1.0
        assert max(gaps) <= longest
        present = lesson.duration - student.joins_at
        assert len(times) >= present / longest - 1
        assert len(times) <= present / shortest + len(lesson.bursts) + 1
    execution_counts = [
        event.fields["executionCount"]
        for event in runs(by_student(events)[1])
        if "executionCount" in event.fields
    ]
    assert execution_counts == list(range(1, len(execution_counts) + 1))


def test_a_share_of_runs_fails_and_only_stuck_students_fail_a_cell_three_times_in_a_row() -> None:
    lesson, events = lesson_of(1)
    grouped = by_student(events)
    stuck = {student.number for student in lesson.students if student.stuck_on is not None}
    assert len(stuck) == round(roster.STUCK_SHARE * STUDENTS)
    assert {n for n, mine in grouped.items() if longest_error_run(mine) >= STUCK_AFTER_ERRORS} == (
        stuck
    )
    code_runs = [
        event
        for number, mine in grouped.items()
        if number not in stuck
        for event in runs(mine)
        if event.fields["cellType"] == "code"
    ]
    failed = sum(event.fields["hasError"] for event in code_runs) / len(code_runs)
    assert failed == pytest.approx(ERROR_RATIO, abs=0.015)
    for student in lesson.students:
        if student.stuck_on is not None:
            stuck_runs = [
                event
                for event in runs(grouped[student.number])
                if event.fields["cellIndex"] == student.stuck_on
            ]
            assert all(event.fields["hasError"] for event in stuck_runs[:STUCK_AFTER_ERRORS])


def test_help_is_sent_at_once_repeated_and_stopped_as_the_extension_does() -> None:
    lesson, events = lesson_of(1)
    grouped = by_student(events)
    asking = {
        student.number
        for student in lesson.students
        if student.asks_help_when_stuck or student.question_at is not None
    }
    assert {n for n, mine in grouped.items() if any(e.event_type == "help" for e in mine)} == (
        asking
    )
    assert len(asking) >= 5
    for number in asking:
        student = lesson.students[number - 1]
        helps = [event for event in grouped[number] if event.event_type.startswith("help")]
        toggled_on = [event.at for event in helps if event.event_type == "help"]
        assert [b - a for a, b in itertools.pairwise(toggled_on)] == pytest.approx(
            [HELP_REPEAT] * (len(toggled_on) - 1)
        )
        stops = [event for event in helps if event.event_type == "help_stop"]
        assert stops == helps[-1:] or lesson.duration - toggled_on[-1] <= HELP_REPEAT
        if student.question_at is not None:
            assert toggled_on[0] == student.question_at
        else:
            errors_before = [
                event
                for event in runs(grouped[number])
                if event.at < toggled_on[0] and event.fields["hasError"]
            ]
            assert len(errors_before) >= STUCK_AFTER_ERRORS


def test_some_students_join_late() -> None:
    lesson, events = lesson_of(1)
    grouped = by_student(events)
    late = [student for student in lesson.students if student.late]
    assert len(late) == round(roster.LATE_SHARE * STUDENTS)
    for student in lesson.students:
        first = grouped[student.number][0]
        assert first.event_type == "notebook_opened"
        assert first.at == student.joins_at
        if student.late:
            assert first.at >= 0.15 * lesson.duration
        else:
            assert first.at <= 60


def test_run_it_now_makes_every_student_present_run_the_same_cell_within_seconds() -> None:
    lesson, events = lesson_of(1)
    assert [burst.at for burst in lesson.bursts] == [180, 360, 540]
    earliest, latest = BURST_REACTION_SECONDS
    for burst in lesson.bursts:
        present = {student.number for student in lesson.students if student.joins_at < burst.at}
        window = [
            event
            for event in events
            if burst.at + earliest <= event.at <= burst.at + latest + 1.0
            and event.event_type == "cell_executed"
        ]
        ran_it = {event.student for event in window if event.fields["cellIndex"] == burst.cell}
        assert ran_it == present
        assert NOTEBOOK[burst.cell].is_code


def test_names_are_japanese_latin_and_some_very_long() -> None:
    lesson, _ = lesson_of(1)
    names = [student.name for student in lesson.students]
    japanese = [name for name in names if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", name)]
    assert len(japanese) > STUDENTS / 2
    assert any(name.isascii() for name in names)
    assert sum(name in roster.LONG_NAMES for name in names) == round(
        roster.LONG_NAME_SHARE * STUDENTS
    )
    assert min(len(name) for name in roster.LONG_NAMES) >= 35
    assert {student.team for student in lesson.students} == {
        f"チーム{team}" for team in range(1, STUDENTS // roster.TEAM_SIZE + 1)
    }
    assert len({student.email for student in lesson.students}) == STUDENTS


@pytest.mark.parametrize(("students", "minutes"), [(1, 0.5), (3, 1), (1000, 0.05)])
def test_small_and_short_lessons_are_still_lessons(students: int, minutes: float) -> None:
    lesson = plan_lesson(students, minutes, 9)
    events = list(lesson.events())
    assert len({event.student for event in events}) <= students
    assert all(0 <= event.at < lesson.duration for event in events)


@pytest.mark.parametrize(("students", "minutes"), [(0, 1), (1, 0)])
def test_an_empty_lesson_is_refused(students: int, minutes: float) -> None:
    with pytest.raises(ValueError, match=r"at least one student|more than 0 minutes"):
        plan_lesson(students, minutes, 1)
