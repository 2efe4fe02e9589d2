"""Ingest keys on the wire. The key itself appears only in the answer that creates it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from cellmon.core.api_types import NO_NUL, RequestModel, ResponseModel, trimmed

KeyLabel = Annotated[
    str,
    trimmed(255),
    NO_NUL,
    Field(description="What the key is for, e.g. `Monday group`; shown in the list."),
]


class IngestKeyCreate(RequestModel):
    label: KeyLabel | None = None


class IngestKeyResponse(ResponseModel):
    """A key as listed: never the key itself, only its first characters."""

    id: int
    class_id: int
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    label: str | None
    created_at: datetime
    created_by: int | None = Field(description="The account that created it.")
    revoked_at: datetime | None


class IngestKeyCreated(ResponseModel):
    id: int
    key: str = Field(description="The key, shown only in this answer: cellmon keeps its hash.")
    class_id: int
    created_at: datetime
    prefix: str
    label: str | None
    events_url: str = Field(
        description="The URL to set as the students' `serverUrl`: the events route with the key."
    )
