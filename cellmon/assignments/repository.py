"""Queries on the class_assignments table.

An assignment is seen through its class: queries for a request take the asker's `Access`, and
an assignment of a class it may not read (or, with `teach`, change) is not found.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth.access import Access
from cellmon.db.models import AssignmentSubmission, ClassAssignment


async def get(
    session: AsyncSession, access: Access, assignment_id: int, *, teach: bool = False
) -> ClassAssignment | None:
    class_id = ClassAssignment.class_id
    rule = access.taught_classes(class_id) if teach else access.classes(class_id)
    query = select(ClassAssignment).where(ClassAssignment.id == assignment_id, rule)
    return await session.scalar(query)


async def list_assignments(
    session: AsyncSession, access: Access, *, skip: int, limit: int, class_id: int | None = None
) -> Sequence[ClassAssignment]:
    query = (
        select(ClassAssignment)
        .where(access.classes(ClassAssignment.class_id))
        .order_by(ClassAssignment.id)
        .offset(skip)
        .limit(limit)
    )
    if class_id is not None:
        query = query.where(ClassAssignment.class_id == class_id)
    return (await session.scalars(query)).all()


async def count_submissions(session: AsyncSession, assignment_id: int) -> int:
    query = select(func.count()).where(AssignmentSubmission.assignment_id == assignment_id)
    return (await session.execute(query)).scalar_one()


async def delete_submissions(session: AsyncSession, assignment_id: int) -> None:
    await session.execute(
        delete(AssignmentSubmission).where(AssignmentSubmission.assignment_id == assignment_id)
    )
