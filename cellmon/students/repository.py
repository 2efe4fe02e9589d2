"""Queries on the students table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import Student


async def get(session: AsyncSession, student_id: int) -> Student | None:
    return await session.get(Student, student_id)


async def get_by_email(session: AsyncSession, email: str) -> Student | None:
    result = await session.scalars(select(Student).where(Student.email == email))
    return result.one_or_none()


async def list_students(
    session: AsyncSession,
    *,
    skip: int,
    limit: int,
    email: str | None = None,
    team_name: str | None = None,
) -> Sequence[Student]:
    query = select(Student).order_by(Student.id).offset(skip).limit(limit)
    if email is not None:
        query = query.where(Student.email == email)
    if team_name is not None:
        query = query.where(Student.team_name == team_name)
    return (await session.scalars(query)).all()
