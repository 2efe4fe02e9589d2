"""Queries on classes, enrollments and instructors.

Every query that finds a class for a request takes the asker's `Access`: a class it may not
read (or, with `teach`, change) is not found, exactly as a class that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth.access import Access, IdColumn
from cellmon.db.models import (
    AssignmentSubmission,
    Class,
    ClassAssignment,
    ClassInstructor,
    Student,
    StudentClass,
    User,
)


def _allowed(access: Access, class_id: IdColumn, *, teach: bool) -> ColumnElement[bool]:
    return access.taught_classes(class_id) if teach else access.classes(class_id)


async def get(
    session: AsyncSession, access: Access, class_id: int, *, teach: bool = False
) -> Class | None:
    query = select(Class).where(Class.id == class_id, _allowed(access, Class.id, teach=teach))
    return await session.scalar(query)


async def get_by_code(session: AsyncSession, class_code: str) -> Class | None:
    result = await session.scalars(select(Class).where(Class.class_code == class_code))
    return result.one_or_none()


async def list_classes(
    session: AsyncSession, access: Access, *, skip: int, limit: int
) -> Sequence[Class]:
    query = (
        select(Class).where(access.classes(Class.id)).order_by(Class.id).offset(skip).limit(limit)
    )
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
    session: AsyncSession, access: Access, student_id: int, *, skip: int, limit: int
) -> Sequence[tuple[Class, datetime]]:
    """The student's classes that the asker may read."""
    query = (
        select(Class, StudentClass.enrolled_at)
        .join(StudentClass, StudentClass.class_id == Class.id)
        .where(StudentClass.student_id == student_id, access.classes(Class.id))
        .order_by(Class.id)
        .offset(skip)
        .limit(limit)
    )
    return [(class_, enrolled_at) for class_, enrolled_at in await session.execute(query)]


async def get_instructor(
    session: AsyncSession, class_id: int, user_id: int
) -> ClassInstructor | None:
    return await session.get(ClassInstructor, (class_id, user_id))


async def list_instructors(
    session: AsyncSession, class_id: int
) -> Sequence[tuple[ClassInstructor, User]]:
    query = (
        select(ClassInstructor, User)
        .join(User, User.id == ClassInstructor.user_id)
        .where(ClassInstructor.class_id == class_id)
        .order_by(User.id)
    )
    return [(instructor, user) for instructor, user in await session.execute(query)]
