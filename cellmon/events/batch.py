"""A batch's bookkeeping: what it reads first and merges last into the rows batches share.

A batch's transaction goes in three stages, so that it holds locks on rows other batches share
(students, sessions, student_cell_states) only for its last statements and two workers'
batches overlap:
- `open_batch` finds or creates every student, session and notebook the batch mentions,
  without locking the ones that exist (a new one is created with the batch's values), and
  reads what the existing students and sessions say;
- the handlers (events/handlers.py) insert the rows keyed by eventId, which no other batch
  updates;
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

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.base import utcnow
from cellmon.events import repository
from cellmon.events.context import BatchContext
from cellmon.events.handlers import by_time, execution_status, who
from cellmon.events.schemas import IngestEvent
from cellmon.live.messages import HELP_REQUEST, STUCK_ALERT

# A run of this many errors in a row on one cell makes a student "stuck": the worker alerts
# when a run reaches it, the class read-outs (classroom/) show the student as stuck from it.
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
                "last_status": execution_status(run.last),
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
                    **who(run.last, student_id),
                    "notebook_id": run.notebook_id,
                    "notebook_path": run.last.notebook_path,
                    "cell_id": cell_id,
                    "client_cell_id": run.last.cell_id,
                    "consecutive_errors": streak,
                    "error_message": run.last.error_message,
                },
            )
