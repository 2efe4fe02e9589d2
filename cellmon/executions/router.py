"""`GET /api/v1/cell-executions`: recorded executions, filtered, oldest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cellmon.auth.deps import AccessDep
from cellmon.core.api_types import (
    DEFAULT_LIMIT,
    Limit,
    Skip,
    UTCTimestamp,
    id_query,
    responses,
)
from cellmon.core.deps import SessionDep
from cellmon.executions import service
from cellmon.executions.schemas import CellExecutionRead, ExecutionFilters, ExecutionStatus

router = APIRouter(prefix="/cell-executions", tags=["progress"])


@router.get(
    "",
    response_model=list[CellExecutionRead],
    summary="List cell executions",
    responses=responses(not_found="`student_id` names no student the asker may see."),
)
async def list_cell_executions(
    session: SessionDep,
    access: AccessDep,
    student_id: Annotated[int | None, id_query("Only this student's executions.")] = None,
    notebook_id: Annotated[int | None, id_query("Only this notebook's executions.")] = None,
    cell_id: Annotated[int | None, id_query("Only this cell's executions.")] = None,
    status: ExecutionStatus | None = None,
    since: Annotated[
        UTCTimestamp | None, Query(description="Only executions at or after this time.")
    ] = None,
    skip: Skip = 0,
    limit: Limit = DEFAULT_LIMIT,
) -> list[CellExecutionRead]:
    """The executions of the students the asker may see: an admin's all, an instructor's
    those of the students enrolled in its classes, a student's its own."""
    filters = ExecutionFilters(
        student_id=student_id,
        notebook_id=notebook_id,
        cell_id=cell_id,
        status=status,
        since=since,
    )
    return await service.list_executions(session, access, filters, skip=skip, limit=limit)
