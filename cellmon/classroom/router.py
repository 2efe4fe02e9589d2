"""Read-outs of a class for instructors' dashboards and other tools, and closing help requests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from cellmon.classroom import service
from cellmon.classroom.schemas import ClassCellMap, ClassRoster, ClassTimeline, HelpResolution
from cellmon.core.deps import BusDep, SessionDep, TimeSeriesDep

router = APIRouter(prefix="/progress/classes", tags=["progress"])

# Integer primary keys are 32-bit on PostgreSQL; a larger id is a bad request, not a 500.
MAX_ID = 2_147_483_647
ClassId = Annotated[int, Path(ge=1, le=MAX_ID, description="The class's id.")]
StudentId = Annotated[int, Path(ge=1, le=MAX_ID, description="The student's id.")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such class."}}


@router.get("/{class_id}", response_model=ClassRoster, responses=NOT_FOUND)
async def get_class_roster(
    class_id: ClassId,
    session: SessionDep,
    active_minutes: Annotated[
        int,
        Query(ge=1, le=1440, description="Activity within this many minutes counts as active."),
    ] = 5,
) -> ClassRoster:
    """Every enrolled student with their state (`help`, `stuck`, `active`, `idle`), the cell
    they ran last, their executions and errors, and how long an open help request has waited;
    with the class's totals."""
    return await service.class_roster(session, class_id, active_minutes)


@router.get("/{class_id}/cells", response_model=ClassCellMap, responses=NOT_FOUND)
async def get_class_cells(
    class_id: ClassId,
    session: SessionDep,
    notebook_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this notebook's cells.")
    ] = None,
) -> ClassCellMap:
    """A heat map of the cells of the notebooks the class ran: per cell, how many students ran
    it, how many met errors, how many are stuck on it now, and the latest error message."""
    return await service.class_cells(session, class_id, notebook_id)


@router.get("/{class_id}/timeline", response_model=ClassTimeline, responses=NOT_FOUND)
async def get_class_timeline(
    class_id: ClassId,
    session: SessionDep,
    timeseries: TimeSeriesDep,
    minutes: Annotated[
        int, Query(ge=1, le=1440, description="How many minutes back, the current one included.")
    ] = 60,
) -> ClassTimeline:
    """Executions and errors of the class's students per minute."""
    return await service.class_timeline(session, timeseries, class_id, minutes)


@router.post(
    "/{class_id}/help/{student_id}/resolve",
    response_model=HelpResolution,
    responses={404: {"description": "No such class, or the student is not enrolled in it."}},
)
async def resolve_help_request(
    class_id: ClassId, student_id: StudentId, session: SessionDep, bus: BusDep
) -> HelpResolution:
    """Mark a student's help request as handled. Every open dashboard hears of it through a
    `help_request` message with `active: false` on `progress:{student_id}` and the student's
    `class:{class_id}` channels. Closing a request that is not open changes nothing."""
    return await service.resolve_help(session, bus, class_id, student_id)
