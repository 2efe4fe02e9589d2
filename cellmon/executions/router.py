"""`GET /api/v1/cell-executions`: recorded executions, filtered, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from cellmon.core.deps import SessionDep
from cellmon.executions import repository
from cellmon.executions.schemas import CellExecutionRead, ExecutionStatus

router = APIRouter(prefix="/cell-executions", tags=["progress"])


@router.get("", response_model=list[CellExecutionRead], summary="List cell executions")
async def list_cell_executions(
    session: SessionDep,
    student_id: int | None = None,
    notebook_id: int | None = None,
    cell_id: int | None = None,
    status: ExecutionStatus | None = None,
    since: Annotated[
        datetime | None, Query(description="Only executions at or after this time (UTC).")
    ] = None,
    skip: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CellExecutionRead]:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    rows = await repository.list_executions(
        session,
        student_id=student_id,
        notebook_id=notebook_id,
        cell_id=cell_id,
        status=status,
        since=since,
        skip=skip,
        limit=limit,
    )
    return [
        CellExecutionRead(
            id=execution.id,
            event_id=execution.event_id,
            event_type=execution.event_type,
            student_id=execution.student_id,
            notebook_id=execution.notebook_id,
            cell_id=execution.cell_id,
            execution_count=execution.execution_count,
            status="error" if execution.status == "error" else "success",
            error_message=execution.error_message,
            code=execution.code,
            result=execution.result,
            client_duration_ms=execution.client_duration_ms,
            event_time=execution.event_time,
            received_at=execution.received_at,
            session_id=client_session_id,
        )
        for execution, client_session_id in rows
    ]
