"""The built-in handlers: what each kind of event becomes in the database.

All of them work on a whole group of events at once (see events/repository.py). A batch's
transaction goes in three stages, so that it holds locks on rows other batches share (students,
sessions, student_cell_states) only for its last statements and two workers' batches overlap:
- `open_batch` finds or creates every student, session and notebook the batch mentions,
  without locking the ones that exist (a new one is created with the batch's values), and
  reads what the existing students and sessions say;
- the handlers insert the rows keyed by eventId, which no other batch updates;
- `close_batch`, last, merges the batch into the existing students (activity, name, team,
  help state) and sessions that it changes, adds the new executions to the students' cell
  states, and enrolls the students of events that came with a class's ingest key; always in
  that table order and with each table's rows sorted by key, so that concurrent batches take
  the locks in one order and never deadlock.

A student or session is changed when the batch brings a new name or team, newer help state,
an earlier start or later end, or activity later than the stored one by more than
ACTIVITY_RESOLUTION. Leaving the others out saves rewriting rows most batches share; it is
safe under concurrent batches because the merges only move times forward (help state only
when newer): a row that another batch wrote since `open_batch` read it says at least as much,
and a name or team it wrote stays, as it would had that batch committed last.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any, overload

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.core.database import dumps_json
from cellmon.core.timeseries import LineProtocolPoints, Point
from cellmon.core.timeseries.base import FieldValue
from cellmon.core.timeseries.line_protocol import CACHE_SIZE, encode_field, encode_series
from cellmon.core.timeseries.sql import PointRow, TableRowPoints, series_columns
from cellmon.db.base import utcnow
from cellmon.events import repository
from cellmon.events.context import BatchContext, CellRun
from cellmon.events.schemas import ACCESS_ACTIONS, EXECUTION_TYPES, IngestEvent
from cellmon.live.messages import EXECUTION_UPDATE, HELP_REQUEST, STUCK_ALERT

# A run of this many errors in a row on one cell makes a student "stuck".
STUCK_AFTER_ERRORS = 3
# The client sends `help` again this often while the student's help toggle is on; a help
# request continues through this many missed repeats.
HELP_REPEAT_SECONDS = timedelta(seconds=10)
HELP_REPEATS_MISSED = 3
# A student's last_activity_at and a session's last_seen_at are kept to this resolution: a
# batch whose latest event is no later than the stored time plus this leaves the row as it is,
# unless it changes something else, so that a student active in every batch has their row
# rewritten about once per resolution instead of once per batch. The read-outs allow it: the
# class roster's shortest `active_minutes` window is 1 minute (default 5) and it takes the
# latest of last_activity_at and the cell states' exact last_event_time, so only a student
# whose latest events are not executions can turn idle early, by at most this; the dashboard
# moves activity forward from live messages itself. No read-out shows a session's times.
ACTIVITY_RESOLUTION = timedelta(seconds=30)
MEASUREMENT = "student_progress"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

by_time = attrgetter("event_time")
# Rows keyed by eventId go in eventId order, so that two workers holding the same events (a
# redelivery, a client's retry) lock them in the same order instead of deadlocking.
by_id = attrgetter("event_id")
row_id = itemgetter("event_id")
# The stored columns that tell whether a batch's merge would change a student or session, and
# that the help-repeat rule reads.
_STUDENT_COMPARED = (
    "name",
    "team_name",
    "last_activity_at",
    "help_last_seen_at",
    "help_handled_at",
    "help_handled_count",
)
_SESSION_COMPARED = ("started_at", "last_seen_at", "ended_at")


async def open_batch(
    session: AsyncSession, dialect: str, events: Sequence[IngestEvent]
) -> BatchContext:
    """The ids of a batch's students, sessions and notebooks, the new ones created; the
    context handlers share, holding the merges `close_batch` applies to the existing ones
    that the batch changes."""
    ordered = sorted(events, key=by_time)
    student_rows = _student_rows(ordered)
    now = utcnow()
    students, stored_students = await repository.resolve_ids(
        session,
        dialect,
        repository.STUDENTS,
        "email",
        [{**row, "created_at": now, "updated_at": now} for row in student_rows],
        _STUDENT_COMPARED,
    )
    for row in student_rows:
        if (previous := stored_students.get(row["email"])) is not None:
            row["help_handled_count"] = previous.help_handled_count
    handled = _keep_handled_requests_closed(student_rows, ordered, stored_students)
    session_rows = _session_rows(ordered, students)
    sessions, stored_sessions = await repository.resolve_ids(
        session,
        dialect,
        repository.SESSIONS,
        "client_session_id",
        session_rows,
        _SESSION_COMPARED,
    )
    notebooks = await repository.resolve_notebooks(
        session, dialect, (event.notebook_path for event in events)
    )
    return BatchContext(
        session,
        dialect,
        students,
        sessions,
        notebooks,
        handled_help=handled,
        enrollments={
            (students[event.email], event.class_id)
            for event in events
            if event.class_id is not None
        },
        student_merges=[
            row
            for row in student_rows
            if (stored := stored_students.get(row["email"])) is not None
            and _changes_student(row, stored)
        ],
        session_merges=[
            row
            for row in session_rows
            if (stored := stored_sessions.get(row["client_session_id"])) is not None
            and _changes_session(row, stored)
        ],
    )


async def close_batch(context: BatchContext) -> None:
    """Merge the batch into the shared rows that existed before it: the batch's last
    statements, in a fixed table order (see the module's docstring)."""
    session, dialect = context.session, context.dialect
    closed_meanwhile = await repository.merge_students(session, dialect, context.student_merges)
    if closed_meanwhile:
        # The merge kept those requests closed: announcing them open would contradict it.
        context.notifications = [
            note
            for note in context.notifications
            if not (
                note.type == HELP_REQUEST
                and note.data["active"]
                and note.student_id in closed_meanwhile
            )
        ]
    await repository.merge_sessions(session, dialect, context.session_merges)
    await _update_cell_states(context)
    # Last: a batch waiting here on another's enrollment of the same student holds no lock
    # that the other still needs.
    await repository.enroll(session, dialect, context.enrollments)


def _student_rows(ordered: Sequence[IngestEvent]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for event in ordered:
        row = rows.get(event.email)
        if row is None:
            row = rows[event.email] = {
                "email": event.email,
                "name": None,
                "team_name": None,
                "last_activity_at": event.event_time,
                "help_active": False,
                "help_requested_at": None,
                "help_last_seen_at": None,
                "help_handled_at": None,
                "help_handled_count": 0,
            }
        if event.user_name:
            row["name"] = event.user_name
        if event.team_name:
            row["team_name"] = event.team_name
        row["last_activity_at"] = event.event_time
        if event.event_type == "help":
            if not row["help_active"]:
                row["help_requested_at"] = event.event_time
            row["help_active"] = True
            row["help_last_seen_at"] = event.event_time
        elif event.event_type == "help_stop":
            row["help_active"] = False
            row["help_requested_at"] = None
            row["help_last_seen_at"] = event.event_time
    return list(rows.values())


def _keep_handled_requests_closed(
    rows: Sequence[dict[str, Any]], ordered: Sequence[IngestEvent], stored: Mapping[str, Row[Any]]
) -> frozenset[str]:
    """E-mails whose `help` events only repeat a request an instructor marked handled.

    The client repeats `help` every HELP_REPEAT_SECONDS while the student's toggle is on, so a
    handled request would reopen within seconds. A `help` continues the handled request when
    it follows the previous help event (client time, so clock skew does not matter) within
    HELP_REPEATS_MISSED repeats and no help_stop came between: the row then keeps the request
    closed. A help_stop, or a longer silence (the toggle went off and its help_stop was lost,
    or the student came back later), makes the next `help` a new request. `stored` holds the
    students' rows as `open_batch` read them.
    """
    first_help: dict[str, datetime] = {}
    stopped: set[str] = set()
    for event in ordered:
        if event.event_type == "help":
            first_help.setdefault(event.email, event.event_time)
        elif event.event_type == "help_stop":
            stopped.add(event.email)
    handled: set[str] = set()
    for row in rows:
        email = row["email"]
        previous = stored.get(email)
        if email not in first_help or email in stopped or previous is None:
            continue
        if previous.help_handled_at is None or previous.help_last_seen_at is None:
            continue
        gap = first_help[email] - previous.help_last_seen_at
        if gap <= HELP_REPEAT_SECONDS * HELP_REPEATS_MISSED:
            row["help_active"] = False
            row["help_requested_at"] = None
            row["help_handled_at"] = previous.help_handled_at
            handled.add(email)
    return frozenset(handled)


def _changes_student(row: Mapping[str, Any], stored: Row[Any]) -> bool:
    """Whether merging the batch's row would change what the stored row says (see
    ACTIVITY_RESOLUTION): the merge's rules (repository.merge_students), seen from here."""
    return (
        (row["name"] is not None and row["name"] != stored.name)
        or (row["team_name"] is not None and row["team_name"] != stored.team_name)
        or _moves(stored.last_activity_at, row["last_activity_at"])
        or (
            row["help_last_seen_at"] is not None
            and (
                stored.help_last_seen_at is None
                or row["help_last_seen_at"] >= stored.help_last_seen_at
            )
        )
    )


def _changes_session(row: Mapping[str, Any], stored: Row[Any]) -> bool:
    """Whether merging the batch's row would change the stored session
    (repository.merge_sessions), last_seen_at to ACTIVITY_RESOLUTION."""
    return (
        row["started_at"] < stored.started_at
        or _moves(stored.last_seen_at, row["last_seen_at"])
        or (
            row["ended_at"] is not None
            and (stored.ended_at is None or row["ended_at"] > stored.ended_at)
        )
    )


def _moves(stored: datetime | None, incoming: datetime) -> bool:
    return stored is None or incoming - stored > ACTIVITY_RESOLUTION


def _session_rows(ordered: Sequence[IngestEvent], students: dict[str, int]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for event in ordered:
        if not event.session_id:
            continue
        row = rows.get(event.session_id)
        if row is None:
            row = rows[event.session_id] = {
                "client_session_id": event.session_id,
                "student_id": students[event.email],
                "started_at": event.event_time,
                "last_seen_at": event.event_time,
                "ended_at": None,
            }
        row["last_seen_at"] = event.event_time
        if event.event_type == "session_end":
            row["ended_at"] = event.event_time
    return list(rows.values())


async def record_executions(context: BatchContext, events: Sequence[IngestEvent]) -> None:
    """cell_executions rows; for the new ones, live messages, and the runs of executions
    `close_batch` adds to the cell states."""
    session, dialect = context.session, context.dialect
    students, notebooks = context.students, context.notebooks
    wanted_cells = {
        (notebooks[event.notebook_path], event.cell_id): {
            "cell_index": event.cell_index,
            "cell_type": event.cell_type,
        }
        for event in events
        if event.cell_id
    }
    cells = await repository.resolve_cells(session, dialect, wanted_cells)
    # In the events' order; the live messages below read their ids back from them.
    rows: list[dict[str, Any]] = [
        {
            "event_id": event.event_id,
            "student_id": students[event.email],
            "session_id": context.session_id(event),
            "notebook_id": notebooks[event.notebook_path],
            "cell_id": cells[(notebooks[event.notebook_path], event.cell_id)]
            if event.cell_id
            else None,
            "event_type": event.event_type,
            "execution_count": event.execution_count,
            "status": _status(event),
            "error_message": event.error_message,
            "code": event.code,
            "result": event.result,
            "client_duration_ms": event.duration_ms,
            "event_time": event.event_time,
            "received_at": event.received_at,
        }
        for event in events
    ]
    new = await repository.insert_executions(session, dialect, sorted(rows, key=row_id))
    recorded = [
        (event, row) for event, row in zip(events, rows, strict=True) if event.event_id in new
    ]
    recorded.sort(key=_time_of_pair)
    runs = context.cell_runs
    for event, row in recorded:
        student_id, notebook_id, cell_id = row["student_id"], row["notebook_id"], row["cell_id"]
        # Item by item: merging _who's dict into another took half as long again.
        message = _who(event, student_id)
        message["execution_id"] = new[event.event_id]
        message["notebook_id"] = notebook_id
        message["notebook_path"] = event.notebook_path
        message["cell_id"] = cell_id
        message["client_cell_id"] = event.cell_id
        message["cell_index"] = event.cell_index
        message["cell_type"] = event.cell_type
        message["execution_count"] = event.execution_count
        message["status"] = row["status"]
        message["error_message"] = event.error_message
        message["client_duration_ms"] = event.duration_ms
        context.notify(EXECUTION_UPDATE, student_id, message)
        if cell_id is None:
            continue
        run = runs.get((student_id, cell_id))
        if run is None:
            run = runs[(student_id, cell_id)] = CellRun(notebook_id)
        run.executions += 1
        if event.has_error:
            run.errors += 1
            run.trailing_errors += 1
        else:
            run.trailing_errors = 0
        run.last = event


def _time_of_pair(pair: tuple[IngestEvent, dict[str, Any]]) -> datetime:
    return pair[0].event_time


async def _update_cell_states(context: BatchContext) -> None:
    """Add the batch's new executions to each (student, cell)'s totals; a stuck alert where
    an error streak reaches the threshold."""
    runs = context.cell_runs
    streaks = await repository.update_cell_states(
        context.session,
        context.dialect,
        [
            {
                "student_id": student_id,
                "cell_id": cell_id,
                "notebook_id": run.notebook_id,
                "executions": run.executions,
                "errors": run.errors,
                "consecutive_errors": run.trailing_errors,
                "last_status": _status(run.last),
                "last_error_message": run.last.error_message if run.last.has_error else None,
                "last_event_time": run.last.event_time,
            }
            for (student_id, cell_id), run in runs.items()
            if run.last is not None
        ],
    )
    for (student_id, cell_id), streak in streaks.items():
        run = runs[(student_id, cell_id)]
        # Alert once, when the run of errors reaches the threshold in this batch.
        if run.last and streak >= STUCK_AFTER_ERRORS > streak - run.trailing_errors:
            context.notify(
                STUCK_ALERT,
                student_id,
                {
                    **_who(run.last, student_id),
                    "notebook_id": run.notebook_id,
                    "notebook_path": run.last.notebook_path,
                    "cell_id": cell_id,
                    "client_cell_id": run.last.cell_id,
                    "consecutive_errors": streak,
                    "error_message": run.last.error_message,
                },
            )


async def record_accesses(context: BatchContext, events: Sequence[IngestEvent]) -> None:
    """notebook_accesses rows: open, save, close."""
    await repository.insert_accesses(
        context.session,
        context.dialect,
        [
            {
                "event_id": event.event_id,
                "student_id": context.students[event.email],
                "notebook_id": context.notebooks[event.notebook_path],
                "session_id": context.session_id(event),
                "action": ACCESS_ACTIONS[event.event_type],
                "event_time": event.event_time,
                "received_at": event.received_at,
            }
            for event in sorted(events, key=by_id)
        ],
    )


async def record_progress_events(context: BatchContext, events: Sequence[IngestEvent]) -> None:
    """progress_events rows for help, session and unknown events, the event kept as it came;
    a new `help` / `help_stop` is announced live (the state itself is set by open_batch)."""
    new = await repository.insert_progress_events(
        context.session,
        context.dialect,
        [
            {
                "event_id": event.event_id,
                "event_type": event.event_type,
                "student_id": context.students[event.email],
                "session_id": context.session_id(event),
                "notebook_id": context.notebooks[event.notebook_path],
                "payload": event.body.decode(),
                "event_time": event.event_time,
                "received_at": event.received_at,
            }
            for event in sorted(events, key=by_id)
        ],
    )
    for event in sorted(events, key=by_time):
        if event.event_type == "help" and event.email in context.handled_help:
            continue
        if event.event_id in new and event.event_type in ("help", "help_stop"):
            student_id = context.students[event.email]
            context.notify(
                HELP_REQUEST,
                student_id,
                {
                    **_who(event, student_id),
                    "active": event.event_type == "help",
                    "notebook_path": event.notebook_path,
                },
            )


def _status(event: IngestEvent) -> str:
    return "error" if event.has_error else "success"


def _who(event: IngestEvent, student_id: int) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "event_time": event.event_time,
        "student_id": student_id,
        "email": event.email,
        "name": event.user_name,
        "team_name": event.team_name,
        "session_id": event.session_id,
    }


def point_for(event: IngestEvent) -> Point:
    """The event's `student_progress` point; the same event always gives the same point.

    Its time is the event's, plus under a millisecond derived from the eventId, so that two
    events of one student in the same millisecond do not overwrite each other in InfluxDB.
    """
    tags = _tags(
        event.email, event.event_type, event.notebook_path, event.cell_type, event.session_id
    )
    return Point(MEASUREMENT, tags, _fields(event), _time_ns(event))


def _fields(event: IngestEvent) -> dict[str, FieldValue]:
    fields: dict[str, FieldValue] = {"notebookPath": event.notebook_path}
    if event.cell_id:
        fields["cellId"] = event.cell_id
    if event.execution_count is not None:
        fields["executionCount"] = event.execution_count
    if event.event_type in EXECUTION_TYPES:
        fields["success"] = not event.has_error
    if event.duration_ms is not None:
        fields["duration"] = event.duration_ms
    return fields


def _tags(
    email: str, event_type: str, notebook_path: str, cell_type: str | None, session_id: str | None
) -> dict[str, str]:
    tags = {"userId": email, "event": event_type, "notebook": notebook_path}
    if cell_type:
        tags["cellType"] = cell_type
    if session_id:
        tags["sessionId"] = session_id
    return tags


def _time_ns(event: IngestEvent) -> int:
    micros = (event.event_time - _EPOCH) // _MICROSECOND
    return micros * 1000 + zlib.crc32(event.event_id.encode()) % 1_000_000


def line_for(event: IngestEvent) -> str:
    """`encode_point(point_for(event))`, without making the point (a point always has its
    notebookPath field, so it always has a line)."""
    fields = [
        _line_start(
            event.email,
            event.event_type,
            event.notebook_path,
            event.cell_type,
            event.session_id,
            event.cell_id or None,
        )
    ]
    # Both numbers are ints: the API validated executionCount as one, duration_ms is rounded.
    if event.execution_count is not None:
        fields.append(f"executionCount={event.execution_count}i")
    if event.event_type in EXECUTION_TYPES:
        fields.append("success=false" if event.has_error else "success=true")
    if event.duration_ms is not None:
        fields.append(f"duration={event.duration_ms}i")
    return f"{','.join(fields)} {_time_ns(event)}"


# The lines of one student's events on one cell start alike: series and string fields.
@functools.lru_cache(maxsize=CACHE_SIZE)
def _line_start(
    email: str,
    event_type: str,
    notebook_path: str,
    cell_type: str | None,
    session_id: str | None,
    cell_id: str | None,
) -> str:
    series = encode_series(
        MEASUREMENT, _tags(email, event_type, notebook_path, cell_type, session_id)
    )
    start = f"{series} {encode_field('notebookPath', notebook_path)}"
    return f"{start},{encode_field('cellId', cell_id)}" if cell_id else start


def row_for(event: IngestEvent) -> PointRow:
    """`point_row(point_for(event))`, without making the point."""
    key, tags = _series_columns(
        event.email, event.event_type, event.notebook_path, event.cell_type, event.session_id
    )
    return MEASUREMENT, key, _time_ns(event), tags, dumps_json(_fields(event))


# A student's events share a few series: their key and tags JSON are worked out once each.
@functools.lru_cache(maxsize=CACHE_SIZE)
def _series_columns(
    email: str, event_type: str, notebook_path: str, cell_type: str | None, session_id: str | None
) -> tuple[str, str]:
    return series_columns(
        MEASUREMENT, _tags(email, event_type, notebook_path, cell_type, session_id)
    )


class ProgressPoints(LineProtocolPoints, TableRowPoints):
    """The `student_progress` points of a batch's events, made only if a sink asks for
    points; InfluxDB gets their lines, the time-series table its rows, straight from the
    events."""

    def __init__(self, events: Sequence[IngestEvent]) -> None:
        self._events = events
        self._points: list[Point] | None = None

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> Point: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Point]: ...

    def __getitem__(self, index: int | slice) -> Point | Sequence[Point]:
        if self._points is None:
            self._points = [point_for(event) for event in self._events]
        return self._points[index]

    def lines(self) -> list[str]:
        return [line_for(event) for event in self._events]

    def table_rows(self) -> list[PointRow]:
        return [row_for(event) for event in self._events]
