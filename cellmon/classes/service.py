"""Rules on classes: unique class codes, guarded deletes, idempotent enrollment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.classes import repository
from cellmon.classes.schemas import ClassCreate, ClassUpdate
from cellmon.core.errors import ConflictError, MissingReferenceError, NotFoundError
from cellmon.db.models import Class, Student, StudentClass
from cellmon.students import service as students


async def get_class(session: AsyncSession, class_id: int) -> Class:
    class_ = await repository.get(session, class_id)
    if class_ is None:
        raise NotFoundError(f"class {class_id} does not exist")
    return class_


def _code_taken(class_code: str) -> ConflictError:
    return ConflictError(f"class_code {class_code!r} is already used by another class")


async def _commit_unique_code(session: AsyncSession, class_code: str) -> None:
    try:
        await session.commit()
    except IntegrityError as exc:
        # Another request took the code between our check and our write.
        await session.rollback()
        raise _code_taken(class_code) from exc


async def create_class(session: AsyncSession, body: ClassCreate) -> Class:
    if await repository.get_by_code(session, body.class_code) is not None:
        raise _code_taken(body.class_code)
    class_ = Class(name=body.name, class_code=body.class_code, description=body.description)
    session.add(class_)
    await _commit_unique_code(session, body.class_code)
    return class_


async def list_classes(session: AsyncSession, *, skip: int, limit: int) -> Sequence[Class]:
    return await repository.list_classes(session, skip=skip, limit=limit)


async def update_class(session: AsyncSession, class_id: int, body: ClassUpdate) -> Class:
    class_ = await get_class(session, class_id)
    changes = body.model_dump(exclude_unset=True)
    new_code = changes.get("class_code")
    if (
        new_code is not None
        and new_code != class_.class_code
        and await repository.get_by_code(session, new_code) is not None
    ):
        raise _code_taken(new_code)
    for field, value in changes.items():
        setattr(class_, field, value)
    await _commit_unique_code(session, class_.class_code)
    return class_


async def delete_class(session: AsyncSession, class_id: int, *, cascade: bool) -> Class:
    class_ = await get_class(session, class_id)
    if cascade:
        await repository.delete_assignments(session, class_id)
    else:
        assignments = await repository.count_assignments(session, class_id)
        if assignments:
            raise ConflictError(
                f"class {class_id} still has {assignments} assignment(s); "
                "delete them first or pass cascade=true to delete them with their submissions"
            )
    await session.delete(class_)
    try:
        await session.commit()
    except IntegrityError as exc:
        # An assignment was added between our count and our delete.
        await session.rollback()
        raise ConflictError(
            f"class {class_id} gained an assignment while being deleted; try again"
        ) from exc
    return class_


async def enroll(
    session: AsyncSession, class_id: int, student_id: int
) -> tuple[StudentClass, bool]:
    """Enroll a student; returns the enrollment and whether it was created by this call."""
    await get_class(session, class_id)
    if not await students.student_exists(session, student_id):
        raise MissingReferenceError(f"student {student_id} does not exist")
    existing = await repository.get_enrollment(session, class_id, student_id)
    if existing is not None:
        return existing, False
    enrollment = StudentClass(student_id=student_id, class_id=class_id)
    session.add(enrollment)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        # Enrolled meanwhile by a concurrent request (same answer as a repeat), or the
        # class or student was deleted meanwhile.
        existing = await repository.get_enrollment(session, class_id, student_id)
        if existing is None:
            raise ConflictError(
                f"class {class_id} or student {student_id} was deleted meanwhile"
            ) from exc
        return existing, False
    return enrollment, True


async def list_class_students(
    session: AsyncSession, class_id: int, *, skip: int, limit: int
) -> Sequence[tuple[Student, datetime]]:
    await get_class(session, class_id)
    return await repository.list_class_students(session, class_id, skip=skip, limit=limit)


async def unenroll(session: AsyncSession, class_id: int, student_id: int) -> None:
    await get_class(session, class_id)
    enrollment = await repository.get_enrollment(session, class_id, student_id)
    if enrollment is None:
        raise NotFoundError(f"student {student_id} is not enrolled in class {class_id}")
    await session.delete(enrollment)
    await session.commit()


async def list_student_classes(
    session: AsyncSession, student_id: int, *, skip: int, limit: int
) -> Sequence[tuple[Class, datetime]]:
    await students.get_student(session, student_id)
    return await repository.list_student_classes(session, student_id, skip=skip, limit=limit)


async def class_exists(session: AsyncSession, class_id: int) -> bool:
    return await repository.get(session, class_id) is not None
