"""Students `/students`: an instructor sees the students enrolled in its classes, a student
account its own record, an admin every student."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from cellmon.auth.deps import AccessDep, StaffUser
from cellmon.classes import service as classes
from cellmon.classes.schemas import ClassResponse, EnrolledClassResponse
from cellmon.core.api_types import DEFAULT_LIMIT, NO_NUL, Limit, PathId, Skip, responses
from cellmon.core.deps import SessionDep
from cellmon.students import service
from cellmon.students.schemas import StudentCreate, StudentResponse, StudentUpdate

router = APIRouter(prefix="/students", tags=["students"])

NO_STUDENT = "No student with this id whose records you may see."


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=StudentResponse,
    summary="Create a student (instructors and admins)",
    description="A new student belongs to no class yet: enroll it to see it again.",
    responses=responses(conflict="A student with this e-mail address already exists."),
)
async def create_student(body: StudentCreate, session: SessionDep, _staff: StaffUser) -> object:
    return await service.create_student(session, body)


@router.get(
    "", response_model=list[StudentResponse], summary="List the students you may see, by id"
)
async def list_students(
    session: SessionDep,
    access: AccessDep,
    skip: Skip = 0,
    limit: Limit = DEFAULT_LIMIT,
    email: Annotated[
        str | None, Query(max_length=320, description="Exact e-mail, case-insensitive."), NO_NUL
    ] = None,
    team_name: Annotated[
        str | None, Query(max_length=255, description="Exact team name."), NO_NUL
    ] = None,
) -> object:
    return await service.list_students(
        session, access, skip=skip, limit=limit, email=email, team_name=team_name
    )


@router.get(
    "/{student_id}",
    response_model=StudentResponse,
    summary="Get a student",
    responses=responses(not_found=NO_STUDENT),
)
async def get_student(student_id: PathId, session: SessionDep, access: AccessDep) -> object:
    return await service.get_student(session, access, student_id)


@router.patch(
    "/{student_id}",
    response_model=StudentResponse,
    summary="Update a student's name or team (partial; instructors of its classes and admins)",
    responses=responses(not_found=NO_STUDENT),
)
async def update_student(
    student_id: PathId,
    body: StudentUpdate,
    session: SessionDep,
    _staff: StaffUser,
    access: AccessDep,
) -> object:
    return await service.update_student(session, access, student_id, body)


@router.get(
    "/{student_id}/classes",
    response_model=list[EnrolledClassResponse],
    summary="List the classes a student is enrolled in that you may see, by class id",
    responses=responses(not_found=NO_STUDENT),
)
async def list_student_classes(
    student_id: PathId,
    session: SessionDep,
    access: AccessDep,
    skip: Skip = 0,
    limit: Limit = DEFAULT_LIMIT,
) -> list[EnrolledClassResponse]:
    rows = await classes.list_student_classes(session, access, student_id, skip=skip, limit=limit)
    return [
        EnrolledClassResponse(
            **ClassResponse.model_validate(class_).model_dump(), enrolled_at=enrolled_at
        )
        for class_, enrolled_at in rows
    ]
