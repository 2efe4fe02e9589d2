from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth.access import Access
from cellmon.db.models import CellExecution, StudentSession
from cellmon.executions.schemas import ExecutionFilters


async def list_executions(
    session: AsyncSession, access: Access, filters: ExecutionFilters, *, skip: int, limit: int
) -> Sequence[Row[CellExecution, str | None]]:
    """The executions of the students `access` may see, narrowed by the filters."""
    statement = (
        select(CellExecution, StudentSession.client_session_id)
        .outerjoin(StudentSession, StudentSession.id == CellExecution.session_id)
        .where(access.students(CellExecution.student_id))
    )
    if filters.student_id is not None:
        statement = statement.where(CellExecution.student_id == filters.student_id)
    if filters.notebook_id is not None:
        statement = statement.where(CellExecution.notebook_id == filters.notebook_id)
    if filters.cell_id is not None:
        statement = statement.where(CellExecution.cell_id == filters.cell_id)
    if filters.status is not None:
        statement = statement.where(CellExecution.status == filters.status)
    if filters.since is not None:
        statement = statement.where(CellExecution.event_time >= filters.since)
    statement = (
        statement.order_by(CellExecution.event_time, CellExecution.id).offset(skip).limit(limit)
    )
    return (await session.execute(statement)).all()
