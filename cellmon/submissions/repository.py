"""Queries on the assignment_submissions table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import AssignmentSubmission


async def get(session: AsyncSession, submission_id: int) -> AssignmentSubmission | None:
    return await session.get(AssignmentSubmission, submission_id)


async def list_submissions(
    session: AsyncSession,
    *,
    skip: int,
    limit: int,
    assignment_id: int | None = None,
    student_id: int | None = None,
) -> Sequence[AssignmentSubmission]:
    query = select(AssignmentSubmission).order_by(AssignmentSubmission.id).offset(skip).limit(limit)
    if assignment_id is not None:
        query = query.where(AssignmentSubmission.assignment_id == assignment_id)
    if student_id is not None:
        query = query.where(AssignmentSubmission.student_id == student_id)
    return (await session.scalars(query)).all()
