from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import Cell, CellExecution, Notebook, Student, StudentCellState


async def get_student(session: AsyncSession, student_id: int) -> Student | None:
    return await session.get(Student, student_id)


@dataclass(frozen=True, slots=True)
class NotebookTotals:
    notebook_id: int
    path: str
    name: str
    executions: int
    errors: int
    cells_run: int
    last_event_time: datetime


async def notebook_totals(session: AsyncSession, student_id: int) -> list[NotebookTotals]:
    """Per notebook: executions, errors, distinct cells, last execution time."""
    statement = (
        select(
            Notebook.id,
            Notebook.path,
            Notebook.name,
            func.count(CellExecution.id),
            func.sum(case((CellExecution.status == "error", 1), else_=0)),
            func.count(func.distinct(CellExecution.cell_id)),
            func.max(CellExecution.event_time),
        )
        .join(Notebook, Notebook.id == CellExecution.notebook_id)
        .where(CellExecution.student_id == student_id)
        .group_by(Notebook.id, Notebook.path, Notebook.name)
        .order_by(func.max(CellExecution.event_time).desc(), Notebook.id)
    )
    return [
        NotebookTotals(id_, path, name, executions, int(errors or 0), cells_run, last_time)
        for id_, path, name, executions, errors, cells_run, last_time in (
            await session.execute(statement)
        ).all()
    ]


async def error_streaks(
    session: AsyncSession, student_id: int
) -> Sequence[Row[StudentCellState, str, int | None]]:
    statement = (
        select(StudentCellState, Cell.client_cell_id, Cell.cell_index)
        .join(Cell, Cell.id == StudentCellState.cell_id)
        .where(StudentCellState.student_id == student_id, StudentCellState.consecutive_errors > 0)
        .order_by(StudentCellState.consecutive_errors.desc(), StudentCellState.cell_id)
    )
    return (await session.execute(statement)).all()
