"""Submissions `/submissions`: an instructor submits, reads, grades and deletes those of the
classes it teaches, an admin any; a student account submits its own work to the assignments of
its classes and reads its own submissions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status

from cellmon.auth.deps import AccessDep, StaffUser
from cellmon.core.api_types import DEFAULT_LIMIT, Limit, PathId, Skip, id_query, responses
from cellmon.core.deps import BusDep, SessionDep
from cellmon.submissions import service
from cellmon.submissions.schemas import SubmissionCreate, SubmissionResponse, SubmissionUpdate

router = APIRouter(prefix="/submissions", tags=["submissions"])

NO_SUBMISSION = "No submission with this id that you may see."
NOT_GRADED_BY_YOU = "No submission with this id to an assignment of a class you teach."
GRADING = (
    "Setting a new or changed grade marks the submission `graded` (unless `status` is given "
    "too), sets `graded_at`, and sends `assignment_graded` to the student on "
    "`notifications:{student_id}` once saved."
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmissionResponse,
    summary="Submit a notebook for an assignment",
    description="An assignment_id or student_id that does not exist answers 422, naming "
    "which; so does one the asker may not use: an instructor submits to the assignments of the "
    "classes it teaches for the students enrolled in them, a student account only its own work "
    "to the assignments of its classes. A student's submission is dated when it arrives.",
    responses={403: {"description": "A student account gave `submitted_at`."}},
)
async def create_submission(
    body: SubmissionCreate, session: SessionDep, access: AccessDep
) -> object:
    if access.principal.is_student and body.submitted_at is not None:
        # A student dating its own work could hand it in late as if on time.
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "only instructors and admins may set submitted_at; "
            "a student's submission is dated when it arrives",
        )
    return await service.create_submission(session, access, body)


@router.get(
    "", response_model=list[SubmissionResponse], summary="List the submissions you may see, by id"
)
async def list_submissions(
    session: SessionDep,
    access: AccessDep,
    skip: Skip = 0,
    limit: Limit = DEFAULT_LIMIT,
    assignment_id: Annotated[
        int | None, id_query("Only the submissions for this assignment.")
    ] = None,
    student_id: Annotated[int | None, id_query("Only the submissions of this student.")] = None,
) -> object:
    return await service.list_submissions(
        session, access, skip=skip, limit=limit, assignment_id=assignment_id, student_id=student_id
    )


@router.get(
    "/{submission_id}",
    response_model=SubmissionResponse,
    summary="Get a submission",
    responses=responses(not_found=NO_SUBMISSION),
)
async def get_submission(submission_id: PathId, session: SessionDep, access: AccessDep) -> object:
    return await service.get_submission(session, access, submission_id)


@router.put(
    "/{submission_id}",
    response_model=SubmissionResponse,
    summary="Update or grade a submission (partial; PATCH does the same)",
    description=GRADING,
    responses=responses(not_found=NOT_GRADED_BY_YOU),
)
@router.patch(
    "/{submission_id}",
    response_model=SubmissionResponse,
    summary="Update or grade a submission (partial)",
    description=GRADING,
    responses=responses(not_found=NOT_GRADED_BY_YOU),
)
async def update_submission(
    submission_id: PathId,
    body: SubmissionUpdate,
    session: SessionDep,
    bus: BusDep,
    _staff: StaffUser,
    access: AccessDep,
) -> object:
    return await service.update_submission(session, access, bus, submission_id, body)


@router.delete(
    "/{submission_id}",
    response_model=SubmissionResponse,
    summary="Delete a submission; answers the deleted submission",
    responses=responses(not_found=NOT_GRADED_BY_YOU),
)
async def delete_submission(
    submission_id: PathId, session: SessionDep, _staff: StaffUser, access: AccessDep
) -> object:
    return await service.delete_submission(session, access, submission_id)
