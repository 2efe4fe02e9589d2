"""Progress read-outs for instructors and tools."""

from __future__ import annotations

from fastapi import APIRouter

from cellmon.auth.deps import AccessDep
from cellmon.core.api_types import PathId, responses
from cellmon.core.deps import SessionDep
from cellmon.progress import service
from cellmon.progress.schemas import StudentProgress

router = APIRouter(prefix="/progress", tags=["progress"])


@router.get(
    "/students/{student_id}",
    response_model=StudentProgress,
    summary="One student's progress per notebook, error streaks and help state",
    responses=responses(not_found="No student with this id that the asker may see."),
)
async def get_student_progress(
    student_id: PathId, session: SessionDep, access: AccessDep
) -> StudentProgress:
    """For the student's instructors (of a class it is enrolled in), the student's own account
    and admins."""
    return await service.student_progress(session, access, student_id)
