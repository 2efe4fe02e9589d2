from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth.access import Access
from cellmon.db.models import CellExecution, StudentSession


async def list_executions(
    session: AsyncSession,
    access: Access,
    *,
    student_id: int | None,
    notebook_id: int | None,
    cell_id: int | None,
    status: str | None,
    since: datetime | None,
    skip: int,
    limit: int,
) -> Sequence[Row[CellExecution, str | None]]:
    """The executions of the students `access` may see, narrowed by the filters."""
    statement = (
        select(CellExecution, StudentSession.client_session_id)
        .outerjoin(StudentSession, StudentSession.id == CellExecution.session_id)
        .where(access.students(CellExecution.student_id))
    )
    if student_id is not None:
        statement = statement.where(CellExecution.student_id == student_id)
    if notebook_id is not None:
        statement = statement.where(CellExecution.notebook_id == notebook_id)
    if cell_id is not None:
        statement = statement.where(CellExecution.cell_id == cell_id)
    if status is not None:
        statement = statement.where(CellExecution.status == status)
    if since is not None:
        statement = statement.where(CellExecution.event_time >= since)
    statement = (
        statement.order_by(CellExecution.event_time, CellExecution.id).offset(skip).limit(limit)
    )
    return (await session.execute(statement)).all()
