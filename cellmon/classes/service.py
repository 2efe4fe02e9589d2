"""Rules on classes: unique class codes, guarded deletes, idempotent enrollment, and who
teaches a class (its owner, who created it, and the co-instructors any of them adds)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.audit import service as audit
from cellmon.auth import repository as accounts
from cellmon.auth.access import Access
from cellmon.auth.principal import Role
from cellmon.classes import repository
from cellmon.classes.schemas import ClassCreate, ClassUpdate
from cellmon.core.errors import ConflictError, MissingReferenceError, NotFoundError
from cellmon.core.unit_of_work import begin_for_savepoint, refused_as
from cellmon.db.models import Class, ClassInstructor, Student, StudentClass, User
from cellmon.students import service as students


def _no_class(class_id: int) -> NotFoundError:
    return NotFoundError(f"class {class_id} does not exist")


async def get_class(
    session: AsyncSession, access: Access, class_id: int, *, teach: bool = False
) -> Class:
    """The class if the asker may read it (with `teach`: change it); else 404 as if missing."""
    class_ = await repository.get(session, access, class_id, teach=teach)
    if class_ is None:
        raise _no_class(class_id)
    return class_


async def class_is_taught(session: AsyncSession, access: Access, class_id: int) -> bool:
    """Whether the class exists and the asker may change what it holds."""
    return await repository.get(session, access, class_id, teach=True) is not None


def _code_taken(class_code: str) -> ConflictError:
    return ConflictError(f"class_code {class_code!r} is already used by another class")


async def create_class(session: AsyncSession, access: Access, body: ClassCreate) -> Class:
    """The creator becomes the class's owner, in the same transaction."""
    if await repository.get_by_code(session, body.class_code) is not None:
        raise _code_taken(body.class_code)
    class_ = Class(name=body.name, class_code=body.class_code, description=body.description)
    # Another request may take the code between our check and our write.
    async with refused_as(session, _code_taken(body.class_code)):
        session.add(class_)
    session.add(
        ClassInstructor(class_id=class_.id, user_id=access.principal.user_id, is_owner=True)
    )
    await session.flush()
    return class_


async def list_classes(
    session: AsyncSession, access: Access, *, skip: int, limit: int
) -> Sequence[Class]:
    return await repository.list_classes(session, access, skip=skip, limit=limit)


async def update_class(
    session: AsyncSession, access: Access, class_id: int, body: ClassUpdate
) -> Class:
    class_ = await get_class(session, access, class_id, teach=True)
    changes = body.model_dump(exclude_unset=True)
    new_code = changes.get("class_code")
    if (
        new_code is not None
        and new_code != class_.class_code
        and await repository.get_by_code(session, new_code) is not None
    ):
        raise _code_taken(new_code)
    async with refused_as(session, _code_taken(changes.get("class_code", class_.class_code))):
        for field, value in changes.items():
            setattr(class_, field, value)
    return class_


async def delete_class(
    session: AsyncSession, access: Access, class_id: int, *, cascade: bool
) -> Class:
    class_ = await get_class(session, access, class_id, teach=True)
    assignments = await repository.count_assignments(session, class_id)
    if assignments and not cascade:
        raise ConflictError(
            f"class {class_id} still has {assignments} assignment(s); "
            "delete them first or pass cascade=true to delete them with their submissions"
        )
    if cascade:
        await repository.delete_assignments(session, class_id)
    await audit.record(
        session,
        access.principal,
        "class.delete",
        "class",
        class_id,
        class_code=class_.class_code,
        assignments_deleted=assignments,
    )
    # An assignment may be added between our count and our delete.
    gained_assignment = ConflictError(
        f"class {class_id} gained an assignment while being deleted; try again"
    )
    async with refused_as(session, gained_assignment):
        await session.delete(class_)
    return class_


async def enroll(
    session: AsyncSession, access: Access, class_id: int, student_id: int
) -> tuple[StudentClass, bool]:
    """Enroll a student; returns the enrollment and whether it was created by this call.

    Any existing student may be enrolled: enrollment is how an instructor takes a student on
    (as an event posted with the class's ingest key does by e-mail address)."""
    await get_class(session, access, class_id, teach=True)
    if not await students.student_exists(session, student_id):
        raise MissingReferenceError(f"student {student_id} does not exist")
    existing = await repository.get_enrollment(session, class_id, student_id)
    if existing is not None:
        return existing, False
    enrollment = StudentClass(student_id=student_id, class_id=class_id)
    await begin_for_savepoint(session)
    try:
        async with session.begin_nested():
            session.add(enrollment)
    except IntegrityError as exc:
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
    session: AsyncSession, access: Access, class_id: int, *, skip: int, limit: int
) -> Sequence[tuple[Student, datetime]]:
    """The roster, with e-mail addresses: for the class's instructors and admins only."""
    await get_class(session, access, class_id, teach=True)
    return await repository.list_class_students(session, class_id, skip=skip, limit=limit)


async def unenroll(session: AsyncSession, access: Access, class_id: int, student_id: int) -> None:
    await get_class(session, access, class_id, teach=True)
    enrollment = await repository.get_enrollment(session, class_id, student_id)
    if enrollment is None:
        raise NotFoundError(f"student {student_id} is not enrolled in class {class_id}")
    await session.delete(enrollment)
    await session.flush()


async def list_student_classes(
    session: AsyncSession, access: Access, student_id: int, *, skip: int, limit: int
) -> Sequence[tuple[Class, datetime]]:
    """The student's classes that the asker may read."""
    await students.get_student(session, access, student_id)
    return await repository.list_student_classes(
        session, access, student_id, skip=skip, limit=limit
    )


async def list_instructors(
    session: AsyncSession, access: Access, class_id: int
) -> Sequence[tuple[ClassInstructor, User]]:
    await get_class(session, access, class_id, teach=True)
    return await repository.list_instructors(session, class_id)


async def add_instructor(
    session: AsyncSession, access: Access, class_id: int, email: str
) -> tuple[ClassInstructor, User, bool]:
    """Make an instructor or admin account a co-instructor of the class; returns the row,
    the account and whether this call added it (adding again changes nothing)."""
    await get_class(session, access, class_id, teach=True)
    user = await accounts.get_by_email(session, email)
    if user is None:
        raise MissingReferenceError(f"no account has the e-mail address {email!r}")
    if user.role == Role.STUDENT:
        raise MissingReferenceError(
            f"the account {email!r} is a student account; only instructor and admin "
            "accounts can teach a class"
        )
    if not user.is_active:
        raise MissingReferenceError(f"the account {email!r} is disabled")
    existing = await repository.get_instructor(session, class_id, user.id)
    if existing is not None:
        return existing, user, False
    instructor = ClassInstructor(class_id=class_id, user_id=user.id, is_owner=False)
    await begin_for_savepoint(session)
    try:
        async with session.begin_nested():
            session.add(instructor)
            await audit.record(
                session,
                access.principal,
                "class.instructor_add",
                "class",
                class_id,
                user_id=user.id,
            )
    except IntegrityError as exc:
        # Added meanwhile by a concurrent request (same answer as a repeat), or the class or
        # the account was deleted meanwhile.
        existing = await repository.get_instructor(session, class_id, user.id)
        if existing is None:
            raise ConflictError(
                f"class {class_id} or the account {email!r} was deleted meanwhile"
            ) from exc
        return existing, user, False
    return instructor, user, True


async def remove_instructor(
    session: AsyncSession, access: Access, class_id: int, user_id: int
) -> None:
    await get_class(session, access, class_id, teach=True)
    instructor = await repository.get_instructor(session, class_id, user_id)
    if instructor is None:
        raise NotFoundError(f"account {user_id} is not an instructor of class {class_id}")
    if instructor.is_owner:
        raise ConflictError(
            f"account {user_id} owns class {class_id} (it created it) and cannot be removed"
        )
    await session.delete(instructor)
    await audit.record(
        session, access.principal, "class.instructor_remove", "class", class_id, user_id=user_id
    )
    await session.flush()
