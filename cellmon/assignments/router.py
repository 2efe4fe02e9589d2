"""Assignments `/assignments`: read by everyone who may read the class (its instructors, its
enrolled students, admins), changed by its instructors and admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from cellmon.assignments import service
from cellmon.assignments.schemas import AssignmentCreate, AssignmentResponse, AssignmentUpdate
from cellmon.auth.deps import AccessDep, StaffUser
from cellmon.core.api_types import DEFAULT_LIMIT, Limit, PathId, Skip, id_query, responses
from cellmon.core.deps import SessionDep

router = APIRouter(prefix="/assignments", tags=["assignments"])

NO_ASSIGNMENT = "No assignment with this id in a class you may see."
NOT_TAUGHT = "No assignment with this id in a class you teach."
MISSING_REFERENCES = (
    "A class_id or notebook_id that does not exist, or a class you do not teach, answers 422, "
    "naming which."
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AssignmentResponse,
    summary="Create an assignment of a class",
    description=MISSING_REFERENCES,
)
async def create_assignment(
    body: AssignmentCreate, session: SessionDep, _staff: StaffUser, access: AccessDep
) -> object:
    return await service.create_assignment(session, access, body)


@router.get(
    "",
    response_model=list[AssignmentResponse],
    summary="List the assignments of the classes you may see, by id",
)
async def list_assignments(
    session: SessionDep,
    access: AccessDep,
    skip: Skip = 0,
    limit: Limit = DEFAULT_LIMIT,
    class_id: Annotated[int | None, id_query("Only the assignments of this class.")] = None,
) -> object:
    return await service.list_assignments(
        session, access, skip=skip, limit=limit, class_id=class_id
    )


@router.get(
    "/{assignment_id}",
    response_model=AssignmentResponse,
    summary="Get an assignment",
    responses=responses(not_found=NO_ASSIGNMENT),
)
async def get_assignment(assignment_id: PathId, session: SessionDep, access: AccessDep) -> object:
    return await service.get_assignment(session, access, assignment_id)


@router.put(
    "/{assignment_id}",
    response_model=AssignmentResponse,
    summary="Update an assignment (partial; PATCH does the same)",
    description=MISSING_REFERENCES,
    responses=responses(not_found=NOT_TAUGHT),
)
@router.patch(
    "/{assignment_id}",
    response_model=AssignmentResponse,
    summary="Update an assignment (partial)",
    description=MISSING_REFERENCES,
    responses=responses(not_found=NOT_TAUGHT),
)
async def update_assignment(
    assignment_id: PathId,
    body: AssignmentUpdate,
    session: SessionDep,
    _staff: StaffUser,
    access: AccessDep,
) -> object:
    return await service.update_assignment(session, access, assignment_id, body)


@router.delete(
    "/{assignment_id}",
    response_model=AssignmentResponse,
    summary="Delete an assignment; answers the deleted assignment",
    description="An assignment that has submissions is kept (409) unless `cascade=true`, "
    "which deletes its submissions too.",
    responses=responses(not_found=NOT_TAUGHT, conflict="The assignment has submissions."),
)
async def delete_assignment(
    assignment_id: PathId,
    session: SessionDep,
    _staff: StaffUser,
    access: AccessDep,
    cascade: Annotated[
        bool, Query(description="Also delete the assignment's submissions.")
    ] = False,
) -> object:
    return await service.delete_assignment(session, access, assignment_id, cascade=cascade)
