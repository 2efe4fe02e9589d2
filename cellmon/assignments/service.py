"""Rules on assignments: they belong to an existing class and notebook; guarded deletes.
Everyone who may read a class reads its assignments; its instructors and admins change them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.assignments import repository
from cellmon.assignments.schemas import AssignmentCreate, AssignmentUpdate
from cellmon.audit import service as audit
from cellmon.auth.access import Access
from cellmon.classes import service as classes
from cellmon.core.errors import ConflictError, MissingReferenceError, NotFoundError
from cellmon.core.unit_of_work import refused_as
from cellmon.db.models import ClassAssignment
from cellmon.notebooks import service as notebooks


async def get_assignment(
    session: AsyncSession, access: Access, assignment_id: int, *, teach: bool = False
) -> ClassAssignment:
    """The assignment if the asker may read (with `teach`: change) its class; else 404."""
    assignment = await repository.get(session, access, assignment_id, teach=teach)
    if assignment is None:
        raise NotFoundError(f"assignment {assignment_id} does not exist")
    return assignment


async def assignment_is_readable(session: AsyncSession, access: Access, assignment_id: int) -> bool:
    """Whether the assignment exists and the asker may read its class."""
    return await repository.get(session, access, assignment_id) is not None


async def _check_references(
    session: AsyncSession, access: Access, class_id: int | None, notebook_id: int | None
) -> None:
    """A class the asker does not teach is named missing, as one that does not exist."""
    missing = []
    if class_id is not None and not await classes.class_is_taught(session, access, class_id):
        missing.append(f"class {class_id}")
    if notebook_id is not None and not await notebooks.notebook_exists(session, notebook_id):
        missing.append(f"notebook {notebook_id}")
    if missing:
        verb = "do" if len(missing) > 1 else "does"
        raise MissingReferenceError(f"{' and '.join(missing)} {verb} not exist")


def _reference_deleted() -> MissingReferenceError:
    return MissingReferenceError(
        "the class or notebook was deleted while the assignment was being saved"
    )


async def create_assignment(
    session: AsyncSession, access: Access, body: AssignmentCreate
) -> ClassAssignment:
    await _check_references(session, access, body.class_id, body.notebook_id)
    assignment = ClassAssignment(**body.model_dump())
    async with refused_as(session, _reference_deleted()):
        session.add(assignment)
    return assignment


async def list_assignments(
    session: AsyncSession, access: Access, *, skip: int, limit: int, class_id: int | None
) -> Sequence[ClassAssignment]:
    return await repository.list_assignments(
        session, access, skip=skip, limit=limit, class_id=class_id
    )


async def update_assignment(
    session: AsyncSession, access: Access, assignment_id: int, body: AssignmentUpdate
) -> ClassAssignment:
    """Moving an assignment to another class needs the asker to teach both."""
    assignment = await get_assignment(session, access, assignment_id, teach=True)
    changes = body.model_dump(exclude_unset=True)
    await _check_references(session, access, changes.get("class_id"), changes.get("notebook_id"))
    async with refused_as(session, _reference_deleted()):
        for field, value in changes.items():
            setattr(assignment, field, value)
    return assignment


async def delete_assignment(
    session: AsyncSession, access: Access, assignment_id: int, *, cascade: bool
) -> ClassAssignment:
    assignment = await get_assignment(session, access, assignment_id, teach=True)
    submissions = await repository.count_submissions(session, assignment_id)
    if submissions and not cascade:
        raise ConflictError(
            f"assignment {assignment_id} still has {submissions} submission(s); "
            "pass cascade=true to delete them with it"
        )
    if cascade:
        await repository.delete_submissions(session, assignment_id)
    await audit.record(
        session,
        access.principal,
        "assignment.delete",
        "assignment",
        assignment_id,
        class_id=assignment.class_id,
        submissions_deleted=submissions,
    )
    # A submission may arrive between our count and our delete.
    received_submission = ConflictError(
        f"assignment {assignment_id} received a submission while being deleted; try again"
    )
    async with refused_as(session, received_submission):
        await session.delete(assignment)
    return assignment
