"""Submissions on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from cellmon.core.api_types import (
    EntityId,
    FreeText,
    JSONObject,
    RequestModel,
    ResponseModel,
    UTCTimestamp,
    refuse_nulls,
)


class SubmissionStatus(StrEnum):
    SUBMITTED = "submitted"
    GRADED = "graded"
    RETURNED = "returned"


NotebookContent = Annotated[
    JSONObject, Field(description="The submitted notebook: the JSON object of the .ipynb file.")
]
Grade = Annotated[
    float,
    Field(
        ge=0,
        allow_inf_nan=False,
        description="A finite number, 0 or more (the scale is the instructor's). Setting a new "
        "or changed grade marks the submission graded (unless `status` is given too), sets "
        "`graded_at` and notifies the student (`assignment_graded`). Null clears the grade.",
    ),
]


class SubmissionCreate(RequestModel):
    assignment_id: EntityId
    student_id: EntityId
    notebook_content: NotebookContent
    submitted_at: UTCTimestamp | None = Field(
        default=None,
        description="When the student submitted; defaults to now. Without a time zone: UTC.",
    )


class SubmissionUpdate(RequestModel):
    """Partial update: omitted fields stay as they are."""

    notebook_content: NotebookContent | None = None
    status: SubmissionStatus | None = None
    grade: Grade | None = None
    feedback: FreeText | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> Self:
        refuse_nulls(self, "notebook_content", "status")
        return self


class SubmissionResponse(ResponseModel):
    id: int
    assignment_id: int
    student_id: int
    notebook_content: dict[str, Any]
    submitted_at: datetime
    status: SubmissionStatus
    grade: float | None
    feedback: str | None
    graded_at: datetime | None
    created_at: datetime
    updated_at: datetime
