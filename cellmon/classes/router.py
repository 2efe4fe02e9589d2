"""Classes `/classes` and enrollment `/classes/{class_id}/students`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cellmon.classes import service
from cellmon.classes.schemas import (
    ClassCreate,
    ClassResponse,
    ClassUpdate,
    EnrolledStudentResponse,
    EnrollmentCreate,
    EnrollmentResponse,
)
from cellmon.core.api_types import DEFAULT_LIMIT, Limit, PathId, Skip, responses
from cellmon.core.deps import SessionDep
from cellmon.students.schemas import StudentResponse

router = APIRouter(prefix="/classes", tags=["classes"])

NO_CLASS = "No class with this id."
CODE_TAKEN = "Another class already uses this class_code."


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ClassResponse,
    summary="Create a class",
    responses=responses(conflict=CODE_TAKEN),
)
async def create_class(body: ClassCreate, session: SessionDep) -> object:
    return await service.create_class(session, body)


@router.get("", response_model=list[ClassResponse], summary="List classes, by id")
async def list_classes(session: SessionDep, skip: Skip = 0, limit: Limit = DEFAULT_LIMIT) -> object:
    return await service.list_classes(session, skip=skip, limit=limit)


@router.get(
    "/{class_id}",
    response_model=ClassResponse,
    summary="Get a class",
    responses=responses(not_found=NO_CLASS),
)
async def get_class(class_id: PathId, session: SessionDep) -> object:
    return await service.get_class(session, class_id)


@router.put(
    "/{class_id}",
    response_model=ClassResponse,
    summary="Update a class (partial; PATCH does the same)",
    responses=responses(not_found=NO_CLASS, conflict=CODE_TAKEN),
)
@router.patch(
    "/{class_id}",
    response_model=ClassResponse,
    summary="Update a class (partial)",
    responses=responses(not_found=NO_CLASS, conflict=CODE_TAKEN),
)
async def update_class(class_id: PathId, body: ClassUpdate, session: SessionDep) -> object:
    return await service.update_class(session, class_id, body)


@router.delete(
    "/{class_id}",
    response_model=ClassResponse,
    summary="Delete a class; answers the deleted class",
    description="Enrollments go with the class. A class that still has assignments is "
    "kept (409) unless `cascade=true`, which deletes its assignments and their submissions.",
    responses=responses(not_found=NO_CLASS, conflict="The class still has assignments."),
)
async def delete_class(
    class_id: PathId,
    session: SessionDep,
    cascade: Annotated[
        bool, Query(description="Also delete the class's assignments and their submissions.")
    ] = False,
) -> object:
    return await service.delete_class(session, class_id, cascade=cascade)


@router.post(
    "/{class_id}/students",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentResponse,
    summary="Enroll a student in a class",
    description="201 with the new enrollment; enrolling again is harmless and answers 200 "
    "with the existing one. A student_id that does not exist answers 422.",
    responses={
        200: {"model": EnrollmentResponse, "description": "Already enrolled."},
        **responses(not_found=NO_CLASS),
    },
)
async def enroll_student(
    class_id: PathId, body: EnrollmentCreate, session: SessionDep, response: Response
) -> object:
    enrollment, created = await service.enroll(session, class_id, body.student_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return enrollment


@router.get(
    "/{class_id}/students",
    response_model=list[EnrolledStudentResponse],
    summary="List the students of a class, by student id",
    responses=responses(not_found=NO_CLASS),
)
async def list_class_students(
    class_id: PathId, session: SessionDep, skip: Skip = 0, limit: Limit = DEFAULT_LIMIT
) -> list[EnrolledStudentResponse]:
    rows = await service.list_class_students(session, class_id, skip=skip, limit=limit)
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
    responses=responses(not_found="No such class, or the student is not enrolled in it."),
)
async def unenroll_student(class_id: PathId, student_id: PathId, session: SessionDep) -> None:
    await service.unenroll(session, class_id, student_id)
