"""Queries on the assignment_submissions table.

Queries for a request take the asker's `Access`. A submission is read by the instructors of
its assignment's class, by admins, and by the student who submitted it; it is changed by the
instructors of the class and admins only. Any other is not found, as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth.access import Access
from cellmon.db.models import AssignmentSubmission, ClassAssignment


def _of_taught_class(access: Access) -> ColumnElement[bool]:
    taught_assignments = select(ClassAssignment.id).where(
        access.taught_classes(ClassAssignment.class_id)
    )
    return AssignmentSubmission.assignment_id.in_(taught_assignments)


def _readable(access: Access) -> ColumnElement[bool]:
    return or_(
        _of_taught_class(access),
        AssignmentSubmission.student_id.in_(access.own_student_ids()),
    )


async def get(
    session: AsyncSession, access: Access, submission_id: int, *, change: bool = False
) -> AssignmentSubmission | None:
    rule = _of_taught_class(access) if change else _readable(access)
    query = select(AssignmentSubmission).where(AssignmentSubmission.id == submission_id, rule)
    return await session.scalar(query)


async def list_submissions(
    session: AsyncSession,
    access: Access,
    *,
    skip: int,
    limit: int,
    assignment_id: int | None = None,
    student_id: int | None = None,
) -> Sequence[AssignmentSubmission]:
    query = (
        select(AssignmentSubmission)
        .where(_readable(access))
        .order_by(AssignmentSubmission.id)
        .offset(skip)
        .limit(limit)
    )
    if assignment_id is not None:
        query = query.where(AssignmentSubmission.assignment_id == assignment_id)
    if student_id is not None:
        query = query.where(AssignmentSubmission.student_id == student_id)
    return (await session.scalars(query)).all()
