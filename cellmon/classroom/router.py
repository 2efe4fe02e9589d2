"""Read-outs of a class for instructors' dashboards and other tools, and closing help requests.

Every route is for the class's instructors and admins: another class's instructor and every
student account get 404, as for a class that does not exist (the roster shows classmates'
e-mail addresses, the heat map their errors)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cellmon.auth.deps import AccessDep
from cellmon.classroom import service
from cellmon.classroom.schemas import ClassCellMap, ClassRoster, ClassTimeline, HelpResolution
from cellmon.core.api_types import PathId, id_query, responses
from cellmon.core.deps import BusDep, SessionDep, TimeSeriesDep

router = APIRouter(prefix="/progress/classes", tags=["progress"])

NO_CLASS = "No class with this id that the asker teaches."
CLASS_NOT_FOUND = responses(not_found=NO_CLASS)


@router.get("/{class_id}", response_model=ClassRoster, responses=CLASS_NOT_FOUND)
async def get_class_roster(
    class_id: PathId,
    session: SessionDep,
    access: AccessDep,
    active_minutes: Annotated[
        int,
        Query(ge=1, le=1440, description="Activity within this many minutes counts as active."),
    ] = 5,
) -> ClassRoster:
    """Every enrolled student with their state (`help`, `stuck`, `active`, `idle`), the cell
    they ran last, their executions and errors, and how long an open help request has waited;
    with the class's totals. `position` says which live messages it includes (those of
    position up to it): a page keeps, for each student, the newer of the roster and a message."""
    return await service.class_roster(session, access, class_id, active_minutes)


@router.get("/{class_id}/cells", response_model=ClassCellMap, responses=CLASS_NOT_FOUND)
async def get_class_cells(
    class_id: PathId,
    session: SessionDep,
    access: AccessDep,
    notebook_id: Annotated[int | None, id_query("Only this notebook's cells.")] = None,
) -> ClassCellMap:
    """A heat map of the cells of the notebooks the class ran: per cell, how many students ran
    it, how many met errors, how many are stuck on it now, and the latest error message."""
    return await service.class_cells(session, access, class_id, notebook_id)


@router.get("/{class_id}/timeline", response_model=ClassTimeline, responses=CLASS_NOT_FOUND)
async def get_class_timeline(
    class_id: PathId,
    session: SessionDep,
    access: AccessDep,
    timeseries: TimeSeriesDep,
    minutes: Annotated[
        int, Query(ge=1, le=1440, description="How many minutes back, the current one included.")
    ] = 60,
) -> ClassTimeline:
    """Executions and errors of the class's students per minute."""
    return await service.class_timeline(session, access, timeseries, class_id, minutes)


@router.post(
    "/{class_id}/help/{student_id}/resolve",
    response_model=HelpResolution,
    responses=responses(
        not_found="No such class that the asker teaches, or the student is not enrolled in it."
    ),
)
async def resolve_help_request(
    class_id: PathId, student_id: PathId, session: SessionDep, access: AccessDep, bus: BusDep
) -> HelpResolution:
    """Mark a student's help request as handled. Every open dashboard hears of it through a
    `help_request` message with `active: false` on `progress:{student_id}` and the student's
    `class:{class_id}` channels. Closing a request that is not open changes nothing. The audit
    trail records each click (`help.resolve`, with whether a request was open)."""
    return await service.resolve_help(session, access, bus, class_id, student_id)
