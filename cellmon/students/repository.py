"""Queries on the students table.

Queries that find students for a request take the asker's `Access`: a student whose records it
may not read (or, with `teach`, change) is not found, exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth.access import Access
from cellmon.db.models import Student


async def get(session: AsyncSession, student_id: int) -> Student | None:
    return await session.get(Student, student_id)


async def get_allowed(
    session: AsyncSession, access: Access, student_id: int, *, teach: bool = False
) -> Student | None:
    rule = access.taught_students(Student.id) if teach else access.students(Student.id)
    return await session.scalar(select(Student).where(Student.id == student_id, rule))


async def get_by_email(session: AsyncSession, email: str) -> Student | None:
    result = await session.scalars(select(Student).where(Student.email == email))
    return result.one_or_none()


async def list_students(
    session: AsyncSession,
    access: Access,
    *,
    skip: int,
    limit: int,
    email: str | None = None,
    team_name: str | None = None,
) -> Sequence[Student]:
    query = (
        select(Student)
        .where(access.students(Student.id))
        .order_by(Student.id)
        .offset(skip)
        .limit(limit)
    )
    if email is not None:
        query = query.where(Student.email == email)
    if team_name is not None:
        query = query.where(Student.team_name == team_name)
    return (await session.scalars(query)).all()
