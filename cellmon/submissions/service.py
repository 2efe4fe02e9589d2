"""Rules on submissions: they reference an existing assignment and student; grading notifies
and is audited. An instructor submits, grades and deletes for the classes it teaches; a student
account submits its own work to its classes' assignments and reads its own submissions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.assignments import service as assignments
from cellmon.audit import service as audit
from cellmon.auth.access import Access
from cellmon.core.bus import MessageBus
from cellmon.core.errors import MissingReferenceError, NotFoundError
from cellmon.core.unit_of_work import after_commit, refused_as
from cellmon.db.base import utcnow
from cellmon.db.models import AssignmentSubmission
from cellmon.live.messages import (
    ASSIGNMENT_GRADED,
    LiveMessage,
    notifications_channel,
    publish_best_effort,
)
from cellmon.students import service as students
from cellmon.submissions import repository
from cellmon.submissions.schemas import SubmissionCreate, SubmissionStatus, SubmissionUpdate


async def get_submission(
    session: AsyncSession, access: Access, submission_id: int, *, change: bool = False
) -> AssignmentSubmission:
    """The submission if the asker may read (with `change`: grade or delete) it; else 404."""
    submission = await repository.get(session, access, submission_id, change=change)
    if submission is None:
        raise NotFoundError(f"submission {submission_id} does not exist")
    return submission


async def create_submission(
    session: AsyncSession, access: Access, body: SubmissionCreate
) -> AssignmentSubmission:
    """The assignment must be of a class the asker may read (an instructor's: one it teaches;
    a student's: one it is enrolled in) and the student one whose records it may read (a
    student account: itself). Anything else is named missing, as if it did not exist."""
    missing = []
    if not await assignments.assignment_is_readable(session, access, body.assignment_id):
        missing.append(f"assignment {body.assignment_id}")
    if not await students.student_is_readable(session, access, body.student_id):
        missing.append(f"student {body.student_id}")
    if missing:
        verb = "do" if len(missing) > 1 else "does"
        raise MissingReferenceError(f"{' and '.join(missing)} {verb} not exist")
    submission = AssignmentSubmission(
        assignment_id=body.assignment_id,
        student_id=body.student_id,
        notebook_content=body.notebook_content,
        submitted_at=body.submitted_at or utcnow(),
        status=SubmissionStatus.SUBMITTED.value,
    )
    reference_deleted = MissingReferenceError(
        "the assignment or student was deleted while the submission was being saved"
    )
    async with refused_as(session, reference_deleted):
        session.add(submission)
    return submission


async def list_submissions(
    session: AsyncSession,
    access: Access,
    *,
    skip: int,
    limit: int,
    assignment_id: int | None,
    student_id: int | None,
) -> Sequence[AssignmentSubmission]:
    return await repository.list_submissions(
        session, access, skip=skip, limit=limit, assignment_id=assignment_id, student_id=student_id
    )


async def update_submission(
    session: AsyncSession,
    access: Access,
    bus: MessageBus,
    submission_id: int,
    body: SubmissionUpdate,
) -> AssignmentSubmission:
    """Apply a partial update; a new or changed grade grades the submission and, once the
    change is committed (never before), tells the student on `notifications:{student_id}`."""
    submission = await get_submission(session, access, submission_id, change=True)
    changes = body.model_dump(mode="json", exclude_unset=True)
    notification: LiveMessage | None = None
    old_grade = submission.grade
    if "grade" in changes:
        grade = changes["grade"]
        if grade is None:
            submission.graded_at = None
            if submission.status == SubmissionStatus.GRADED:
                changes.setdefault("status", SubmissionStatus.SUBMITTED.value)
        elif grade != old_grade:
            graded_at = utcnow()
            submission.graded_at = graded_at
            changes.setdefault("status", SubmissionStatus.GRADED.value)
            assignment = await assignments.get_assignment(session, access, submission.assignment_id)
            notification = LiveMessage(
                type=ASSIGNMENT_GRADED,
                channels=(notifications_channel(submission.student_id),),
                data={
                    "submission_id": submission.id,
                    "assignment_id": assignment.id,
                    "assignment_title": assignment.title,
                    "grade": grade,
                    "feedback": changes.get("feedback", submission.feedback),
                    "graded_at": graded_at.isoformat(),
                },
            )
    for field, value in changes.items():
        setattr(submission, field, value)
    if submission.grade != old_grade:
        await audit.record(
            session,
            access.principal,
            "submission.grade" if old_grade is None else "submission.regrade",
            "submission",
            submission.id,
            assignment_id=submission.assignment_id,
            student_id=submission.student_id,
            grade=submission.grade,
            old_grade=old_grade,
        )
    await session.flush()
    if notification is not None:
        message = notification
        after_commit(session, lambda: publish_best_effort(bus, [message]))
    return submission


async def delete_submission(
    session: AsyncSession, access: Access, submission_id: int
) -> AssignmentSubmission:
    submission = await get_submission(session, access, submission_id, change=True)
    await audit.record(
        session,
        access.principal,
        "submission.delete",
        "submission",
        submission_id,
        assignment_id=submission.assignment_id,
        student_id=submission.student_id,
        grade=submission.grade,
    )
    await session.delete(submission)
    await session.flush()
    return submission
