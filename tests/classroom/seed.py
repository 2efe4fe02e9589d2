"""Seed a class straight through the ORM, as the ingest worker would leave the tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.core.database import Database
from cellmon.db.models import (
    Cell,
    CellExecution,
    Class,
    Notebook,
    Student,
    StudentCellState,
    StudentClass,
)


def now() -> datetime:
    return datetime.now(UTC)


def ago(**delta: float) -> datetime:
    return now() - timedelta(**delta)


@dataclass
class Seeder:
    session: AsyncSession
    executions: int = field(default=0)

    async def klass(self, name: str = "Python 1", code: str = "PY1") -> Class:
        row = Class(name=name, class_code=code)
        self.session.add(row)
        await self.session.flush()
        return row

    async def student(
        self,
        email: str,
        *classes: Class,
        last_activity_at: datetime | None = None,
        help_requested_at: datetime | None = None,
        name: str | None = None,
        team: str | None = None,
    ) -> Student:
        row = Student(
            email=email,
            name=name,
            team_name=team,
            last_activity_at=last_activity_at,
            help_active=help_requested_at is not None,
            help_requested_at=help_requested_at,
        )
        self.session.add(row)
        await self.session.flush()
        for each in classes:
            self.session.add(StudentClass(student_id=row.id, class_id=each.id))
        await self.session.flush()
        return row

    async def notebook(self, path: str, cells: int) -> tuple[Notebook, list[Cell]]:
        notebook = Notebook(path=path, name=path.rsplit("/", 1)[-1])
        self.session.add(notebook)
        await self.session.flush()
        rows = [
            Cell(notebook_id=notebook.id, client_cell_id=f"cell-{index}", cell_index=index)
            for index in range(cells)
        ]
        self.session.add_all(rows)
        await self.session.flush()
        return notebook, rows

    async def runs(
        self,
        student: Student,
        cell: Cell,
        statuses: str,
        last: datetime,
        error: str = "NameError: name 'x' is not defined",
    ) -> None:
        """Record executions of one cell, one letter each (`s` success, `e` error), the last
        one at `last` and each earlier one a second before the next."""
        trailing = len(statuses) - len(statuses.rstrip("e"))
        self.session.add(
            StudentCellState(
                student_id=student.id,
                cell_id=cell.id,
                notebook_id=cell.notebook_id,
                executions=len(statuses),
                errors=statuses.count("e"),
                consecutive_errors=trailing,
                last_status="error" if statuses.endswith("e") else "success",
                last_error_message=error if "e" in statuses else None,
                last_event_time=last,
            )
        )
        for offset, status in enumerate(reversed(statuses)):
            self.executions += 1
            moment = last - timedelta(seconds=offset)
            self.session.add(
                CellExecution(
                    event_id=f"seed-{self.executions}",
                    student_id=student.id,
                    notebook_id=cell.notebook_id,
                    cell_id=cell.id,
                    event_type="cell_executed",
                    status="error" if status == "e" else "success",
                    error_message=error if status == "e" else None,
                    event_time=moment,
                    received_at=moment,
                )
            )
        await self.session.flush()


def database(app: FastAPI) -> Database:
    found: Database = app.state.database
    return found
