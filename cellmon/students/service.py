"""Rules on students: one student per (lower-cased) e-mail address."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.core.errors import ConflictError, NotFoundError
from cellmon.db.models import Student
from cellmon.students import repository
from cellmon.students.schemas import StudentCreate, StudentUpdate, normalize_email


async def get_student(session: AsyncSession, student_id: int) -> Student:
    student = await repository.get(session, student_id)
    if student is None:
        raise NotFoundError(f"student {student_id} does not exist")
    return student


def _taken(email: str) -> ConflictError:
    return ConflictError(f"a student with e-mail {email!r} already exists")


async def create_student(session: AsyncSession, body: StudentCreate) -> Student:
    if await repository.get_by_email(session, body.email) is not None:
        raise _taken(body.email)
    student = Student(email=body.email, name=body.name, team_name=body.team_name)
    session.add(student)
    try:
        await session.commit()
    except IntegrityError as exc:
        # Created meanwhile by another request or by the ingest worker.
        await session.rollback()
        raise _taken(body.email) from exc
    return student


async def list_students(
    session: AsyncSession,
    *,
    skip: int,
    limit: int,
    email: str | None,
    team_name: str | None,
) -> Sequence[Student]:
    return await repository.list_students(
        session,
        skip=skip,
        limit=limit,
        email=None if email is None else normalize_email(email),
        team_name=team_name,
    )


async def update_student(session: AsyncSession, student_id: int, body: StudentUpdate) -> Student:
    student = await get_student(session, student_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(student, field, value)
    await session.commit()
    return student


async def student_exists(session: AsyncSession, student_id: int) -> bool:
    return await repository.get(session, student_id) is not None
