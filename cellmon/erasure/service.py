"""Erasing a student: every record about them, as a university must on request.

The SQL rows go in one transaction, with the audit entry that says so. The time-series points
(tagged with the student's e-mail address, see `events.points.point_for`) go after the
commit: with InfluxDB they live in another store, which may be down. Then the answer says that
they are still to be deleted, and a repeat finishes the job: the student row is gone by then,
so the repeat names the student's address (`?email=`), and is accepted for an id the audit
trail shows erased. Nothing keeps the address meanwhile: the trail holds the id and counts.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.audit import service as audit
from cellmon.auth.principal import Principal
from cellmon.core.bus import MessageBus
from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable, ConflictError, NotFoundError
from cellmon.core.timeseries import DeletedPoints, TimeSeriesSink
from cellmon.erasure import repository
from cellmon.erasure.schemas import ErasedRecords, ErasureReport
from cellmon.events.points import MEASUREMENT, USER_TAG
from cellmon.live.session_ends import EndCause, SessionEnd, announce

logger = logging.getLogger(__name__)

ERASE = "student.erase"
ERASE_TIMESERIES = "student.erase_timeseries"
TARGET = "student"
NO_STUDENT = "No student with this id."


class AddressMismatch(ValueError):
    """The `email` given with a student's id is not that student's address (422)."""


async def erase_student(
    database: Database,
    timeseries: TimeSeriesSink,
    bus: MessageBus,
    actor: Principal,
    student_id: int,
    email: str | None,
) -> ErasureReport:
    """Erase the student `student_id`; `email` (lower-cased) finishes an earlier erasure."""
    async with database.writing() as session:
        student = await repository.find_student(session, student_id)
        if student is not None:
            if email is not None and email != student.email:
                raise AddressMismatch(f"email: not the address of student {student_id}")
            address = student.email
        else:
            address = await _repeated_address(session, student_id, email)
        counts = await repository.delete_student_rows(session, student_id)
        accounts, counts["audit_entries_unnamed"] = await repository.delete_account(
            session, address
        )
        counts["accounts"] = len(accounts)
        counts["dead_letters"] = await repository.delete_dead_letters(session, address)
        counts["test_events"] = await repository.delete_test_events(session, address)
        await audit.record(session, actor, ERASE, TARGET, student_id, **counts)
    # Committed: the account's tokens are refused, and its open sockets are closed now.
    for account_id in accounts:
        await announce(bus, SessionEnd(account_id, None, EndCause.ACCOUNT_ERASED))

    try:
        points: DeletedPoints | None = await timeseries.delete_tagged(
            MEASUREMENT, USER_TAG, address
        )
    except BackendUnavailable:
        logger.warning("erasure of student %d: time-series points not deleted yet", student_id)
        points = None
    async with database.writing() as session:
        await audit.record(
            session,
            actor,
            ERASE_TIMESERIES,
            TARGET,
            student_id,
            deleted=points is not None,
            timeseries_points=points.stored if points else None,
            pending_timeseries_points=points.pending if points else 0,
        )
    return _report(student_id, counts, points)


async def _repeated_address(session: AsyncSession, student_id: int, email: str | None) -> str:
    """The address of a repeat for a student already erased, or why there is none."""
    erased = await audit.list_entries(
        session, skip=0, limit=1, action=ERASE, target_type=TARGET, target_id=student_id
    )
    if not erased:
        raise NotFoundError(NO_STUDENT)
    if email is None:
        raise NotFoundError(
            f"Student {student_id} was erased. To finish an erasure that left time-series "
            "points, repeat with ?email=<the student's address>."
        )
    recreated = await repository.student_id_with_email(session, email)
    if recreated is not None:
        raise ConflictError(
            f"Student {recreated} has this address now (events that came after the erasure "
            f"recreated the student): erase student {recreated}."
        )
    return email


def _report(student_id: int, counts: dict[str, int], points: DeletedPoints | None) -> ErasureReport:
    records = ErasedRecords(
        **counts,
        timeseries_points=points.stored if points else None,
        pending_timeseries_points=points.pending if points else 0,
    )
    if points is None:
        return ErasureReport(
            student_id=student_id,
            complete=False,
            timeseries="pending",
            deleted=records,
            detail=(
                "The records in the database are deleted; the time-series store could not be "
                "reached, so the student's time-series points are still to be deleted. Repeat "
                f"DELETE /api/v1/students/{student_id}?email=<the student's address> once it "
                "is back."
            ),
        )
    return ErasureReport(
        student_id=student_id,
        complete=True,
        timeseries="deleted",
        deleted=records,
        detail="Everything recorded about the student is deleted.",
    )
