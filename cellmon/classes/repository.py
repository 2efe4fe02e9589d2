"""Queries on classes and enrollments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import AssignmentSubmission, Class, ClassAssignment, Student, StudentClass


async def get(session: AsyncSession, class_id: int) -> Class | None:
    return await session.get(Class, class_id)


async def get_by_code(session: AsyncSession, class_code: str) -> Class | None:
    result = await session.scalars(select(Class).where(Class.class_code == class_code))
    return result.one_or_none()


async def list_classes(session: AsyncSession, *, skip: int, limit: int) -> Sequence[Class]:
    query = select(Class).order_by(Class.id).offset(skip).limit(limit)
    return (await session.scalars(query)).all()


async def count_assignments(session: AsyncSession, class_id: int) -> int:
    query = select(func.count()).where(ClassAssignment.class_id == class_id)
    return (await session.execute(query)).scalar_one()


async def delete_assignments(session: AsyncSession, class_id: int) -> None:
    """Delete the class's assignments and their submissions."""
    assignment_ids = select(ClassAssignment.id).where(ClassAssignment.class_id == class_id)
    await session.execute(
        delete(AssignmentSubmission).where(AssignmentSubmission.assignment_id.in_(assignment_ids))
    )
    await session.execute(delete(ClassAssignment).where(ClassAssignment.class_id == class_id))


async def get_enrollment(
    session: AsyncSession, class_id: int, student_id: int
) -> StudentClass | None:
    return await session.get(StudentClass, (student_id, class_id))


async def list_class_students(
    session: AsyncSession, class_id: int, *, skip: int, limit: int
) -> Sequence[tuple[Student, datetime]]:
    query = (
        select(Student, StudentClass.enrolled_at)
        .join(StudentClass, StudentClass.student_id == Student.id)
        .where(StudentClass.class_id == class_id)
        .order_by(Student.id)
        .offset(skip)
        .limit(limit)
    )
    return [(student, enrolled_at) for student, enrolled_at in await session.execute(query)]


async def list_student_classes(
    session: AsyncSession, student_id: int, *, skip: int, limit: int
) -> Sequence[tuple[Class, datetime]]:
    query = (
        select(Class, StudentClass.enrolled_at)
        .join(StudentClass, StudentClass.class_id == Class.id)
        .where(StudentClass.student_id == student_id)
        .order_by(Class.id)
        .offset(skip)
        .limit(limit)
    )
    return [(class_, enrolled_at) for class_, enrolled_at in await session.execute(query)]
