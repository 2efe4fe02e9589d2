"""Classes `/classes`, enrollment `/classes/{class_id}/students` and who teaches a class
`/classes/{class_id}/instructors`.

Any signed-in account reads the classes it may see (an instructor its own, a student those
it is enrolled in, an admin all); changing a class is for its instructors and admins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cellmon.auth.deps import AccessDep, StaffUser
from cellmon.classes import service
from cellmon.classes.schemas import (
    ClassCreate,
    ClassResponse,
    ClassUpdate,
    EnrolledStudentResponse,
    EnrollmentCreate,
    EnrollmentResponse,
    InstructorCreate,
    InstructorResponse,
)
from cellmon.core.api_types import DEFAULT_LIMIT, Limit, PathId, Skip, responses
from cellmon.core.deps import SessionDep
from cellmon.db.models import ClassInstructor, User
from cellmon.students.schemas import StudentResponse

router = APIRouter(prefix="/classes", tags=["classes"])

NO_CLASS = "No class with this id that you may see."
NOT_TAUGHT = "No class with this id that you teach."
CODE_TAKEN = "Another class already uses this class_code."


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ClassResponse,
    summary="Create a class (instructors and admins); the creator owns it",
    responses=responses(conflict=CODE_TAKEN),
)
async def create_class(
    body: ClassCreate, session: SessionDep, _staff: StaffUser, access: AccessDep
) -> object:
    return await service.create_class(session, access, body)


@router.get("", response_model=list[ClassResponse], summary="List the classes you may see, by id")
async def list_classes(
    session: SessionDep, access: AccessDep, skip: Skip = 0, limit: Limit = DEFAULT_LIMIT
) -> object:
    return await service.list_classes(session, access, skip=skip, limit=limit)


@router.get(
    "/{class_id}",
    response_model=ClassResponse,
    summary="Get a class",
    responses=responses(not_found=NO_CLASS),
)
async def get_class(class_id: PathId, session: SessionDep, access: AccessDep) -> object:
    return await service.get_class(session, access, class_id)


@router.put(
    "/{class_id}",
    response_model=ClassResponse,
    summary="Update a class (partial; PATCH does the same)",
    responses=responses(not_found=NOT_TAUGHT, conflict=CODE_TAKEN),
)
@router.patch(
    "/{class_id}",
    response_model=ClassResponse,
    summary="Update a class (partial)",
    responses=responses(not_found=NOT_TAUGHT, conflict=CODE_TAKEN),
)
async def update_class(
    class_id: PathId, body: ClassUpdate, session: SessionDep, _staff: StaffUser, access: AccessDep
) -> object:
    return await service.update_class(session, access, class_id, body)


@router.delete(
    "/{class_id}",
    response_model=ClassResponse,
    summary="Delete a class; answers the deleted class",
    description="Enrollments go with the class. A class that still has assignments is "
    "kept (409) unless `cascade=true`, which deletes its assignments and their submissions.",
    responses=responses(not_found=NOT_TAUGHT, conflict="The class still has assignments."),
)
async def delete_class(
    class_id: PathId,
    session: SessionDep,
    _staff: StaffUser,
    access: AccessDep,
    cascade: Annotated[
        bool, Query(description="Also delete the class's assignments and their submissions.")
    ] = False,
) -> object:
    return await service.delete_class(session, access, class_id, cascade=cascade)


@router.post(
    "/{class_id}/students",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentResponse,
    summary="Enroll a student in a class",
    description="201 with the new enrollment; enrolling again is harmless and answers 200 "
    "with the existing one. A student_id that does not exist answers 422.",
    responses={
        200: {"model": EnrollmentResponse, "description": "Already enrolled."},
        **responses(not_found=NOT_TAUGHT),
    },
)
async def enroll_student(
    class_id: PathId,
    body: EnrollmentCreate,
    session: SessionDep,
    _staff: StaffUser,
    access: AccessDep,
    response: Response,
) -> object:
    enrollment, created = await service.enroll(session, access, class_id, body.student_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return enrollment


@router.get(
    "/{class_id}/students",
    response_model=list[EnrolledStudentResponse],
    summary="List the students of a class, by student id (its instructors and admins)",
    responses=responses(not_found=NOT_TAUGHT),
)
async def list_class_students(
    class_id: PathId,
    session: SessionDep,
    access: AccessDep,
    skip: Skip = 0,
    limit: Limit = DEFAULT_LIMIT,
) -> list[EnrolledStudentResponse]:
    rows = await service.list_class_students(session, access, class_id, skip=skip, limit=limit)
    return [
        EnrolledStudentResponse(
            **StudentResponse.model_validate(student).model_dump(), enrolled_at=enrolled_at
        )
        for student, enrolled_at in rows
    ]


@router.delete(
    "/{class_id}/students/{student_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a student from a class",
    responses=responses(not_found="No class you teach, or the student is not enrolled in it."),
)
async def unenroll_student(
    class_id: PathId, student_id: PathId, session: SessionDep, _staff: StaffUser, access: AccessDep
) -> None:
    await service.unenroll(session, access, class_id, student_id)


@router.get(
    "/{class_id}/instructors",
    response_model=list[InstructorResponse],
    summary="List who teaches a class, by account id (its instructors and admins)",
    responses=responses(not_found=NOT_TAUGHT),
)
async def list_instructors(
    class_id: PathId, session: SessionDep, access: AccessDep
) -> list[InstructorResponse]:
    rows = await service.list_instructors(session, access, class_id)
    return [_instructor_response(instructor, user) for instructor, user in rows]


@router.post(
    "/{class_id}/instructors",
    status_code=status.HTTP_201_CREATED,
    response_model=InstructorResponse,
    summary="Add a co-instructor to a class (its instructors and admins)",
    description="The e-mail address must be an existing instructor or admin account's; "
    "otherwise 422 says what is wrong. 201 when added; adding again answers 200.",
    responses={
        200: {"model": InstructorResponse, "description": "Already an instructor."},
        **responses(not_found=NOT_TAUGHT),
    },
)
async def add_instructor(
    class_id: PathId,
    body: InstructorCreate,
    session: SessionDep,
    _staff: StaffUser,
    access: AccessDep,
    response: Response,
) -> InstructorResponse:
    instructor, user, added = await service.add_instructor(session, access, class_id, body.email)
    if not added:
        response.status_code = status.HTTP_200_OK
    return _instructor_response(instructor, user)


@router.delete(
    "/{class_id}/instructors/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a co-instructor from a class (its instructors and admins)",
    responses=responses(
        not_found="No class you teach, or the account does not teach it.",
        conflict="The account owns the class.",
    ),
)
async def remove_instructor(
    class_id: PathId, user_id: PathId, session: SessionDep, _staff: StaffUser, access: AccessDep
) -> None:
    await service.remove_instructor(session, access, class_id, user_id)


def _instructor_response(instructor: ClassInstructor, user: User) -> InstructorResponse:
    return InstructorResponse(
        user_id=user.id,
        email=user.email,
        full_name=user.full_name,
        is_owner=instructor.is_owner,
        added_at=instructor.added_at,
    )
