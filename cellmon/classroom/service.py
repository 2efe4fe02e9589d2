"""The class read-outs an instructor's dashboard (or any tool) needs, and closing help requests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.audit import service as audit
from cellmon.auth.access import Access
from cellmon.classroom import repository
from cellmon.classroom.schemas import (
    CellHeat,
    ClassCellMap,
    ClassRoster,
    ClassTimeline,
    CurrentCell,
    HelpResolution,
    NotebookHeat,
    RosterStudent,
    RosterTotals,
    StuckCell,
    StudentState,
    TimelineBucket,
)
from cellmon.core.bus import MessageBus
from cellmon.core.database import snapshot
from cellmon.core.errors import NotFoundError
from cellmon.core.timeseries import TimeSeriesSink
from cellmon.core.timeseries.base import FieldValue
from cellmon.core.unit_of_work import after_commit
from cellmon.db.models import Class, Student
from cellmon.events.batch import STUCK_AFTER_ERRORS
from cellmon.events.points import EVENT_TAG, MEASUREMENT, SUCCESS_FIELD, USER_TAG
from cellmon.events.schemas import EXECUTION_TYPES
from cellmon.live.messages import (
    HELP_REQUEST,
    LiveMessage,
    class_channel,
    progress_channel,
    publish_best_effort,
)
from cellmon.live.positions import current_position, next_position

TIMELINE_INTERVAL_SECONDS = 60
# The time-series points' event tags of cell executions, in a fixed order.
_EXECUTION_EVENTS = sorted(EXECUTION_TYPES)


async def _require_taught_class(session: AsyncSession, access: Access, class_id: int) -> Class:
    """The class, if the asker teaches it or is an admin; else 404, as for a missing class:
    its read-outs show students' e-mail addresses, code and errors, not for classmates."""
    await access.require_class(session, class_id, teach=True)
    found = await repository.get_class(session, class_id)
    if found is None:  # deleted since the check
        raise NotFoundError(f"class {class_id} does not exist")
    return found


def _state(
    student: Any, stuck: bool, last_activity: datetime | None, since: datetime
) -> StudentState:
    if student.help_active:
        return "help"
    if stuck:
        return "stuck"
    if last_activity is not None and last_activity >= since:
        return "active"
    return "idle"


def _latest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


async def class_roster(
    session: AsyncSession, access: Access, class_id: int, active_minutes: int
) -> ClassRoster:
    """The roster as of one moment: its queries run in one snapshot, which also gives its live
    position (live/positions.py), so that a page can tell which live messages it includes."""
    found = await _require_taught_class(session, access, class_id)
    async with snapshot(session):
        now = datetime.now(UTC)
        position = await current_position(session)
        students = await repository.enrolled_students(session, class_id)
        totals = await repository.student_totals(session, class_id)
        latest = await repository.latest_cells(session, class_id)
        stuck = await repository.stuck_cells(session, class_id, STUCK_AFTER_ERRORS)
    since = now - timedelta(minutes=active_minutes)

    rows: list[RosterStudent] = []
    for student in students:
        counted = totals.get(student.id)
        last_activity = _latest(
            student.last_activity_at, counted.last_event_time if counted else None
        )
        current = latest.get(student.id)
        stuck_on = stuck.get(student.id)
        rows.append(
            RosterStudent(
                id=student.id,
                email=student.email,
                name=student.name,
                team_name=student.team_name,
                state=_state(student, stuck_on is not None, last_activity, since),
                executions=counted.executions if counted else 0,
                errors=counted.errors if counted else 0,
                last_activity_at=last_activity,
                help_active=student.help_active,
                help_requested_at=student.help_requested_at if student.help_active else None,
                current=CurrentCell.model_validate(current, from_attributes=True)
                if current
                else None,
                stuck_on=StuckCell.model_validate(stuck_on, from_attributes=True)
                if stuck_on
                else None,
            )
        )
    return ClassRoster(
        class_id=found.id,
        class_name=found.name,
        generated_at=now,
        position=position,
        active_minutes=active_minutes,
        stuck_threshold=STUCK_AFTER_ERRORS,
        totals=RosterTotals(
            students=len(rows),
            active=sum(row.state == "active" for row in rows),
            idle=sum(row.state == "idle" for row in rows),
            stuck=sum(row.state == "stuck" for row in rows),
            help=sum(row.state == "help" for row in rows),
            executions=sum(row.executions for row in rows),
            errors=sum(row.errors for row in rows),
        ),
        students=rows,
    )


def _heat_cell(row: Any) -> CellHeat:
    return CellHeat(
        cell_id=row.cell_id,
        client_cell_id=row.client_cell_id,
        cell_index=row.cell_index,
        cell_type=row.cell_type,
        students=int(row.students or 0),
        students_with_errors=int(row.students_with_errors or 0),
        students_stuck=int(row.students_stuck or 0),
        executions=int(row.executions or 0),
        errors=int(row.errors or 0),
        latest_error_message=row.last_error_message,
    )


async def class_cells(
    session: AsyncSession, access: Access, class_id: int, notebook_id: int | None
) -> ClassCellMap:
    await access.require_class(session, class_id, teach=True)
    if notebook_id is not None and not await repository.notebook_exists(session, notebook_id):
        raise NotFoundError(f"notebook {notebook_id} not found")
    rows = await repository.cell_heat(session, class_id, STUCK_AFTER_ERRORS, notebook_id)
    notebooks: dict[int, NotebookHeat] = {}
    for row in rows:
        notebook = notebooks.get(row.notebook_id)
        if notebook is None:
            notebook = NotebookHeat(
                notebook_id=row.notebook_id, path=row.path, name=row.name, cells=[]
            )
            notebooks[row.notebook_id] = notebook
        notebook.cells.append(_heat_cell(row))
    return ClassCellMap(
        class_id=class_id,
        students=await repository.enrolled_count(session, class_id),
        notebooks=list(notebooks.values()),
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def class_timeline(
    session: AsyncSession,
    access: Access,
    timeseries: TimeSeriesSink,
    class_id: int,
    minutes: int,
    *,
    clock: Callable[[], datetime] = _utc_now,
) -> ClassTimeline:
    """`clock` says what "now" is, so that a caller can hold the current minute still."""
    await access.require_class(session, class_id, teach=True)
    students = await repository.enrolled_students(session, class_id)
    width = timedelta(seconds=TIMELINE_INTERVAL_SECONDS)
    now = clock()
    # Whole minutes, the current one included, so that the chart's bars line up with the clock.
    end = now.replace(second=0, microsecond=0) + width
    start = end - minutes * width
    executions: dict[datetime, int] = {}
    errors: dict[datetime, int] = {}
    if students:
        executions = await _counts(timeseries, start, end, students)
        errors = await _counts(timeseries, start, end, students, {SUCCESS_FIELD: False})
    buckets = [
        TimelineBucket(
            start=start + index * width,
            executions=executions.get(start + index * width, 0),
            errors=errors.get(start + index * width, 0),
        )
        for index in range(minutes)
    ]
    return ClassTimeline(
        class_id=class_id,
        start=start,
        end=end,
        interval_seconds=TIMELINE_INTERVAL_SECONDS,
        buckets=buckets,
    )


async def _counts(
    timeseries: TimeSeriesSink,
    start: datetime,
    end: datetime,
    students: Sequence[repository.EnrolledStudent],
    field_filters: Mapping[str, FieldValue] | None = None,
) -> dict[datetime, int]:
    """Cell executions of the students per interval (the worker tags points with the e-mail)."""
    buckets = await timeseries.count_per_interval(
        MEASUREMENT,
        start,
        end,
        TIMELINE_INTERVAL_SECONDS,
        {USER_TAG: [student.email for student in students], EVENT_TAG: _EXECUTION_EVENTS},
        field_filters,
    )
    return {bucket.start: bucket.count for bucket in buckets}


async def resolve_help(
    session: AsyncSession, access: Access, bus: MessageBus, class_id: int, student_id: int
) -> HelpResolution:
    """Close a student's help request on the word of one of the class's instructors (or an
    admin), record who did it in the audit trail, and tell every open view."""
    await access.require_class(session, class_id, teach=True)
    if not await repository.is_enrolled(session, class_id, student_id):
        raise NotFoundError(f"student {student_id} is not enrolled in class {class_id}")
    student = await session.get(Student, student_id)
    if student is None:
        raise NotFoundError(f"student {student_id} not found")
    now = datetime.now(UTC)
    was_active = student.help_active
    if was_active:
        student.help_active = False
        student.help_requested_at = None
        # The `help` repeats that follow (queued before the click, or sent since because the
        # student's toggle is still on) then leave the request closed: see events/batch.py.
        student.help_handled_at = now
        # In SQL, so that two clicks at once both count: a worker's batch that read the count
        # before either learns at its merge that the request was closed meanwhile.
        student.help_handled_count = Student.help_handled_count + 1
    await audit.record(
        session,
        access.principal,
        "help.resolve",
        "student",
        student_id,
        class_id=class_id,
        student_id=student_id,
        was_open=was_active,
    )
    position: int | None = None
    if was_active:
        classes = await repository.class_ids_of_student(session, student_id)
        # Last: the counter stays locked until the request's commit (live/positions.py).
        position = await next_position(session)
        resolved = partial(
            publish_best_effort,
            bus,
            [
                LiveMessage(
                    type=HELP_REQUEST,
                    channels=(
                        progress_channel(student_id),
                        *(class_channel(each) for each in classes),
                    ),
                    data={
                        "student_id": student_id,
                        "email": student.email,
                        "active": False,
                        "resolved_by": "instructor",
                        "resolved_at": now.isoformat(),
                    },
                    sent_at=now,
                    position=position,
                )
            ],
        )
        # Only once the request is committed: a view told of it must find it closed.
        after_commit(session, resolved)
    return HelpResolution(
        class_id=class_id,
        student_id=student_id,
        help_active=False,
        was_active=was_active,
        resolved_at=now,
        position=position,
    )
