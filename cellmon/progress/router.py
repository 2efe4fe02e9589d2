"""Progress read-outs for instructors and tools."""

from __future__ import annotations

from fastapi import APIRouter

from cellmon.core.deps import SessionDep
from cellmon.progress import service
from cellmon.progress.schemas import StudentProgress

router = APIRouter(prefix="/progress", tags=["progress"])


@router.get(
    "/students/{student_id}",
    response_model=StudentProgress,
    summary="One student's progress per notebook, error streaks and help state",
    responses={404: {"description": "No such student."}},
)
async def get_student_progress(student_id: int, session: SessionDep) -> StudentProgress:
    return await service.student_progress(session, student_id)
