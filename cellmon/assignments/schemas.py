"""Assignments on the wire."""

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
    UTCTimestamp,
    refuse_nulls,
    trimmed,
)

Title = Annotated[str, trimmed(255), NO_NUL]
DUE_DATE = "When the assignment is due; a value without a time zone is taken as UTC."


class AssignmentCreate(RequestModel):
    class_id: EntityId
    notebook_id: EntityId
    title: Title
    description: FreeText | None = None
    due_date: UTCTimestamp | None = Field(default=None, description=DUE_DATE)


class AssignmentUpdate(RequestModel):
    """Partial update: omitted fields stay as they are; null clears description or due_date."""

    class_id: EntityId | None = None
    notebook_id: EntityId | None = None
    title: Title | None = None
    description: FreeText | None = None
    due_date: UTCTimestamp | None = Field(default=None, description=DUE_DATE)

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> Self:
        refuse_nulls(self, "class_id", "notebook_id", "title")
        return self


class AssignmentResponse(ResponseModel):
    id: int
    class_id: int
    notebook_id: int
    title: str
    description: str | None
    due_date: datetime | None
    created_at: datetime
    updated_at: datetime
