"""Classes and enrollments on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import Field, model_validator

from cellmon.core.api_types import (
    NO_NUL,
    EntityId,
    FreeText,
    RequestModel,
    ResponseModel,
    refuse_nulls,
    trimmed,
)
from cellmon.students.schemas import Email, StudentResponse

ClassName = Annotated[str, trimmed(255), NO_NUL]
ClassCode = Annotated[str, trimmed(64), NO_NUL]


class ClassCreate(RequestModel):
    name: ClassName
    class_code: ClassCode
    description: FreeText | None = None


class ClassUpdate(RequestModel):
    """Partial update: omitted fields stay as they are."""

    name: ClassName | None = None
    class_code: ClassCode | None = None
    description: FreeText | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> Self:
        refuse_nulls(self, "name", "class_code")
        return self


class ClassResponse(ResponseModel):
    id: int
    name: str
    class_code: str
    description: str | None
    created_at: datetime
    updated_at: datetime


class EnrollmentCreate(RequestModel):
    student_id: EntityId


class EnrollmentResponse(ResponseModel):
    student_id: int
    class_id: int
    enrolled_at: datetime


class EnrolledStudentResponse(StudentResponse):
    enrolled_at: datetime


class EnrolledClassResponse(ClassResponse):
    enrolled_at: datetime


class InstructorCreate(RequestModel):
    email: Email = Field(
        description="The e-mail address of an existing instructor or admin account."
    )


class InstructorResponse(ResponseModel):
    user_id: int
    email: str
    full_name: str | None
    is_owner: bool = Field(description="The class's creator, who cannot be removed.")
    added_at: datetime
