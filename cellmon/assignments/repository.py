"""Queries on the class_assignments table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import AssignmentSubmission, ClassAssignment


async def get(session: AsyncSession, assignment_id: int) -> ClassAssignment | None:
    return await session.get(ClassAssignment, assignment_id)


async def list_assignments(
    session: AsyncSession, *, skip: int, limit: int, class_id: int | None = None
) -> Sequence[ClassAssignment]:
    query = select(ClassAssignment).order_by(ClassAssignment.id).offset(skip).limit(limit)
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
