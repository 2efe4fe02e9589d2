"""Set-based reads of a class: a fixed number of queries whatever the number of students."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import (
    Cell,
    Class,
    Notebook,
    Student,
    StudentCellState,
    StudentClass,
)


@dataclass(frozen=True, slots=True)
class StudentTotals:
    executions: int
    errors: int
    last_event_time: datetime | None


async def get_class(session: AsyncSession, class_id: int) -> Class | None:
    return await session.get(Class, class_id)


def _in_class(class_id: int) -> ColumnElement[bool]:
    """Join condition that keeps the cell states of the class's enrolled students."""
    return and_(
        StudentClass.student_id == StudentCellState.student_id, StudentClass.class_id == class_id
    )


# id, email, name, team_name, last_activity_at, help_active, help_requested_at
EnrolledStudent = Row[int, str, str | None, str | None, datetime | None, bool, datetime | None]


async def enrolled_students(session: AsyncSession, class_id: int) -> Sequence[EnrolledStudent]:
    """Plain rows, not ORM objects: a class of 1,000 needs no identity map."""
    statement = (
        select(
            Student.id,
            Student.email,
            Student.name,
            Student.team_name,
            Student.last_activity_at,
            Student.help_active,
            Student.help_requested_at,
        )
        .join(StudentClass, StudentClass.student_id == Student.id)
        .where(StudentClass.class_id == class_id)
        .order_by(Student.id)
    )
    return (await session.execute(statement)).all()


async def is_enrolled(session: AsyncSession, class_id: int, student_id: int) -> bool:
    statement = select(StudentClass.student_id).where(
        StudentClass.class_id == class_id, StudentClass.student_id == student_id
    )
    return (await session.scalar(statement)) is not None


async def class_ids_of_student(session: AsyncSession, student_id: int) -> list[int]:
    statement = select(StudentClass.class_id).where(StudentClass.student_id == student_id)
    return list((await session.scalars(statement)).all())


async def student_totals(session: AsyncSession, class_id: int) -> dict[int, StudentTotals]:
    statement = (
        select(
            StudentCellState.student_id,
            func.sum(StudentCellState.executions),
            func.sum(StudentCellState.errors),
            func.max(StudentCellState.last_event_time),
        )
        .join(StudentClass, _in_class(class_id))
        .group_by(StudentCellState.student_id)
    )
    rows = (await session.execute(statement)).all()
    return {
        student_id: StudentTotals(int(executions or 0), int(errors or 0), last)
        for student_id, executions, errors, last in rows
    }


async def latest_cells(session: AsyncSession, class_id: int) -> dict[int, Row[Any]]:
    """Per student, the cell state touched last (the cell of their latest execution)."""
    return await _first_cell_per_student(
        session,
        class_id,
        order_by=(StudentCellState.last_event_time.desc(), StudentCellState.cell_id.desc()),
        columns=("last_status", "last_event_time"),
    )


async def stuck_cells(session: AsyncSession, class_id: int, threshold: int) -> dict[int, Row[Any]]:
    """Per stuck student, the cell with their longest current run of errors."""
    return await _first_cell_per_student(
        session,
        class_id,
        order_by=(
            StudentCellState.consecutive_errors.desc(),
            StudentCellState.last_event_time.desc(),
        ),
        columns=("consecutive_errors", "last_error_message"),
        where=StudentCellState.consecutive_errors >= threshold,
    )


async def _first_cell_per_student(
    session: AsyncSession,
    class_id: int,
    *,
    order_by: tuple[ColumnElement[Any], ...],
    columns: tuple[str, ...],
    where: ColumnElement[bool] | None = None,
) -> dict[int, Row[Any]]:
    """Per enrolled student, their first cell state in `order_by`, with the state's `columns`
    and the cell's notebook path, client id and index."""
    states = select(
        StudentCellState,
        func.row_number()
        .over(partition_by=StudentCellState.student_id, order_by=order_by)
        .label("rank"),
    ).join(StudentClass, _in_class(class_id))
    if where is not None:
        states = states.where(where)
    ranked = states.subquery()
    # Typed as rows of any width: the selected columns vary with `columns`.
    statement: Select[Any] = (
        select(
            ranked.c.student_id,
            ranked.c.notebook_id,
            ranked.c.cell_id,
            *(ranked.c[name] for name in columns),
            Notebook.path.label("notebook_path"),
            Cell.client_cell_id,
            Cell.cell_index,
        )
        .join(Cell, Cell.id == ranked.c.cell_id)
        .join(Notebook, Notebook.id == ranked.c.notebook_id)
        .where(ranked.c.rank == 1)
    )
    return {row.student_id: row for row in (await session.execute(statement)).all()}


async def enrolled_count(session: AsyncSession, class_id: int) -> int:
    statement = select(func.count()).where(StudentClass.class_id == class_id)
    return int(await session.scalar(statement) or 0)


async def notebook_exists(session: AsyncSession, notebook_id: int) -> bool:
    return (await session.get(Notebook, notebook_id)) is not None


async def cell_heat(
    session: AsyncSession, class_id: int, threshold: int, notebook_id: int | None
) -> list[Row[Any]]:
    """Every cell of the notebooks the class ran (or of `notebook_id`), with the class's
    counts on it; cells nobody of the class ran yet come with zeros."""
    scope = [StudentCellState.notebook_id == notebook_id] if notebook_id is not None else []
    per_cell = (
        select(
            StudentCellState.cell_id,
            func.count().label("students"),
            func.sum(case((StudentCellState.errors > 0, 1), else_=0)).label("students_with_errors"),
            func.sum(case((StudentCellState.consecutive_errors >= threshold, 1), else_=0)).label(
                "students_stuck"
            ),
            func.sum(StudentCellState.executions).label("executions"),
            func.sum(StudentCellState.errors).label("errors"),
        )
        .join(StudentClass, _in_class(class_id))
        .where(*scope)
        .group_by(StudentCellState.cell_id)
        .subquery()
    )
    latest_error = (
        select(
            StudentCellState.cell_id,
            StudentCellState.last_error_message,
            func.row_number()
            .over(
                partition_by=StudentCellState.cell_id,
                order_by=StudentCellState.last_event_time.desc(),
            )
            .label("rank"),
        )
        .join(StudentClass, _in_class(class_id))
        .where(*scope, StudentCellState.last_error_message.is_not(None))
        .subquery()
    )
    notebooks_ran = (
        select(StudentCellState.notebook_id)
        .join(StudentClass, _in_class(class_id))
        .where(*scope)
        .distinct()
    )
    statement = (
        select(
            Notebook.id.label("notebook_id"),
            Notebook.path,
            Notebook.name,
            Cell.id.label("cell_id"),
            Cell.client_cell_id,
            Cell.cell_index,
            Cell.cell_type,
            per_cell.c.students,
            per_cell.c.students_with_errors,
            per_cell.c.students_stuck,
            per_cell.c.executions,
            per_cell.c.errors,
            latest_error.c.last_error_message,
        )
        .join(Notebook, Notebook.id == Cell.notebook_id)
        .outerjoin(per_cell, per_cell.c.cell_id == Cell.id)
        .outerjoin(latest_error, and_(latest_error.c.cell_id == Cell.id, latest_error.c.rank == 1))
        .where(Cell.notebook_id.in_(notebooks_ran))
        .order_by(Notebook.path, Cell.cell_index.is_(None), Cell.cell_index, Cell.id)
    )
    return list((await session.execute(statement)).all())
