"""Rules on students: one student per (lower-cased) e-mail address; an instructor reads and
changes the students enrolled in its classes, a student account its own record."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.audit import service as audit
from cellmon.auth.access import Access
from cellmon.core.errors import ConflictError, NotFoundError
from cellmon.core.unit_of_work import refused_as
from cellmon.db.models import Student
from cellmon.students import repository
from cellmon.students.schemas import StudentCreate, StudentUpdate, normalize_email


async def get_student(
    session: AsyncSession, access: Access, student_id: int, *, teach: bool = False
) -> Student:
    """The student if the asker may read (with `teach`: change) its records; else 404."""
    student = await repository.get_allowed(session, access, student_id, teach=teach)
    if student is None:
        raise NotFoundError(f"student {student_id} does not exist")
    return student


def _taken(email: str) -> ConflictError:
    return ConflictError(f"a student with e-mail {email!r} already exists")


async def create_student(session: AsyncSession, body: StudentCreate) -> Student:
    if await repository.get_by_email(session, body.email) is not None:
        raise _taken(body.email)
    student = Student(email=body.email, name=body.name, team_name=body.team_name)
    # Created meanwhile by another request or by the ingest worker?
    async with refused_as(session, _taken(body.email)):
        session.add(student)
    return student


async def list_students(
    session: AsyncSession,
    access: Access,
    *,
    skip: int,
    limit: int,
    email: str | None,
    team_name: str | None,
) -> Sequence[Student]:
    return await repository.list_students(
        session,
        access,
        skip=skip,
        limit=limit,
        email=None if email is None else normalize_email(email),
        team_name=team_name,
    )


async def update_student(
    session: AsyncSession, access: Access, student_id: int, body: StudentUpdate
) -> Student:
    student = await get_student(session, access, student_id, teach=True)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        setattr(student, field, value)
    # The names of the fields only: the trail outlives an erased student's name.
    await audit.record(
        session, access.principal, "student.update", "student", student_id, fields=sorted(changes)
    )
    return student


async def student_exists(session: AsyncSession, student_id: int) -> bool:
    return await repository.get(session, student_id) is not None


async def student_is_readable(session: AsyncSession, access: Access, student_id: int) -> bool:
    """Whether the student exists and the asker may read its records."""
    return await repository.get_allowed(session, access, student_id) is not None
