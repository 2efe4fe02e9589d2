"""Submissions `/submissions`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from cellmon.core.api_types import DEFAULT_LIMIT, Limit, PathId, Skip, id_query, responses
from cellmon.core.deps import BusDep, SessionDep
from cellmon.submissions import service
from cellmon.submissions.schemas import SubmissionCreate, SubmissionResponse, SubmissionUpdate

router = APIRouter(prefix="/submissions", tags=["submissions"])

NO_SUBMISSION = "No submission with this id."
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
    description="An assignment_id or student_id that does not exist answers 422, naming which.",
)
async def create_submission(body: SubmissionCreate, session: SessionDep) -> object:
    return await service.create_submission(session, body)


@router.get("", response_model=list[SubmissionResponse], summary="List submissions, by id")
async def list_submissions(
    session: SessionDep,
    skip: Skip = 0,
    limit: Limit = DEFAULT_LIMIT,
    assignment_id: Annotated[
        int | None, id_query("Only the submissions for this assignment.")
    ] = None,
    student_id: Annotated[int | None, id_query("Only the submissions of this student.")] = None,
) -> object:
    return await service.list_submissions(
        session, skip=skip, limit=limit, assignment_id=assignment_id, student_id=student_id
    )


@router.get(
    "/{submission_id}",
    response_model=SubmissionResponse,
    summary="Get a submission",
    responses=responses(not_found=NO_SUBMISSION),
)
async def get_submission(submission_id: PathId, session: SessionDep) -> object:
    return await service.get_submission(session, submission_id)


@router.put(
    "/{submission_id}",
    response_model=SubmissionResponse,
    summary="Update or grade a submission (partial; PATCH does the same)",
    description=GRADING,
    responses=responses(not_found=NO_SUBMISSION),
)
@router.patch(
    "/{submission_id}",
    response_model=SubmissionResponse,
    summary="Update or grade a submission (partial)",
    description=GRADING,
    responses=responses(not_found=NO_SUBMISSION),
)
async def update_submission(
    submission_id: PathId, body: SubmissionUpdate, session: SessionDep, bus: BusDep
) -> object:
    return await service.update_submission(session, bus, submission_id, body)


@router.delete(
    "/{submission_id}",
    response_model=SubmissionResponse,
    summary="Delete a submission; answers the deleted submission",
    responses=responses(not_found=NO_SUBMISSION),
)
async def delete_submission(submission_id: PathId, session: SessionDep) -> object:
    return await service.delete_submission(session, submission_id)
