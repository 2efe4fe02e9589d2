"""Recorded executions as their reader may see them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth.access import Access
from cellmon.executions import repository
from cellmon.executions.schemas import CellExecutionRead, ExecutionFilters


async def list_executions(
    session: AsyncSession, access: Access, filters: ExecutionFilters, *, skip: int, limit: int
) -> list[CellExecutionRead]:
    """Oldest first. A `student_id` the reader may not see is a 404, as a missing one is:
    an empty list would tell that the student exists."""
    if filters.student_id is not None:
        await access.require_student(session, filters.student_id)
    rows = await repository.list_executions(session, access, filters, skip=skip, limit=limit)
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
