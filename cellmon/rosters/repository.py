"""Set-based queries of a roster import: a handful of statements for any number of rows."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.base import utcnow
from cellmon.db.bulk import execute_many, insert_many
from cellmon.db.models import Student, StudentClass

STUDENTS: Table = Student.__table__  # type: ignore[assignment]
ENROLLMENTS: Table = StudentClass.__table__  # type: ignore[assignment]
# In the table's order, with the defaults SQLAlchemy would give (bulk.py binds only these).
STUDENT_COLUMNS = (
    "email",
    "name",
    "team_name",
    "help_active",
    "help_handled_count",
    "created_at",
    "updated_at",
)
ENROLLMENT_COLUMNS = ("student_id", "class_id", "enrolled_at")


async def dialect_of(session: AsyncSession) -> str:
    return (await session.connection()).dialect.name


async def student_ids(session: AsyncSession, emails: Collection[str]) -> dict[str, int]:
    """The ids of the students among these (normalized) addresses that exist."""
    if not emails:
        return {}
    query = select(Student.email, Student.id).where(Student.email.in_(sorted(emails)))
    return {row.email: row.id for row in await session.execute(query)}


async def insert_students(
    session: AsyncSession, dialect: str, students: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Insert the students (email, name, team_name); the ids of those this statement created.
    One another request (or the ingest worker) created meanwhile is left as it is."""
    if not students:
        return {}
    now = utcnow()
    # In address order, as the ingest worker writes students: rows locked in one order.
    rows = sorted(
        (
            {**student, "help_active": False, "help_handled_count": 0, "created_at": now}
            | {"updated_at": now}
            for student in students
        ),
        key=lambda row: row["email"],
    )
    result = await execute_many(session, dialect, _insert_students(dialect), rows)
    return {row.email: row.id for row in result}


@functools.cache
def _insert_students(dialect: str) -> Executable:
    return (
        insert_many(dialect, STUDENTS, STUDENT_COLUMNS)
        .on_conflict_do_nothing(index_elements=[STUDENTS.c.email])
        .returning(STUDENTS.c.email, STUDENTS.c.id)
    )


async def enrolled(session: AsyncSession, class_id: int, student_ids: Collection[int]) -> set[int]:
    """Which of these students are enrolled in the class."""
    if not student_ids:
        return set()
    query = select(StudentClass.student_id).where(
        StudentClass.class_id == class_id, StudentClass.student_id.in_(sorted(student_ids))
    )
    return set((await session.scalars(query)).all())


async def enroll(
    session: AsyncSession, dialect: str, class_id: int, student_ids: Collection[int]
) -> set[int]:
    """Enroll the students; the ids of those this statement enrolled (not those enrolled
    meanwhile by another request)."""
    if not student_ids:
        return set()
    now = utcnow()
    rows = [
        {"student_id": student_id, "class_id": class_id, "enrolled_at": now}
        for student_id in sorted(student_ids)
    ]
    result = await execute_many(session, dialect, _enroll(dialect), rows)
    return set(result.scalars().all())


@functools.cache
def _enroll(dialect: str) -> Executable:
    return (
        insert_many(dialect, ENROLLMENTS, ENROLLMENT_COLUMNS)
        .on_conflict_do_nothing(index_elements=[ENROLLMENTS.c.student_id, ENROLLMENTS.c.class_id])
        .returning(ENROLLMENTS.c.student_id)
    )
