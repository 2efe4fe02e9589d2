"""Students on the wire."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from cellmon.core.api_types import NO_NUL, RequestModel, ResponseModel, trimmed

# Deliberately loose: one @, no spaces, a dot in the domain. Deliverability is not our concern.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.][^@\s]*")


def normalize_email(value: str) -> str:
    """The form every layer identifies a student by (the ingest worker too)."""
    return value.strip().lower()


def _email(value: str) -> str:
    value = normalize_email(value)
    if not EMAIL_PATTERN.fullmatch(value):
        raise ValueError("is not an e-mail address")
    return value


Email = Annotated[
    str,
    StringConstraints(max_length=320),
    NO_NUL,
    AfterValidator(_email),
    Field(description="Trimmed and lower-cased; must look like name@domain.tld."),
]
StudentName = Annotated[str, trimmed(255), NO_NUL]


class StudentCreate(RequestModel):
    email: Email
    name: StudentName | None = None
    team_name: StudentName | None = None


class StudentUpdate(RequestModel):
    """Partial update: omitted fields stay as they are; null clears name or team_name."""

    name: StudentName | None = None
    team_name: StudentName | None = None


class StudentResponse(ResponseModel):
    id: int
    email: str
    name: str | None
    team_name: str | None
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime | None = Field(description="Set by event ingest; read-only.")
    help_active: bool = Field(description="Set by event ingest; read-only.")
