"""Request types shared by the API routers: ids, pagination, text and timestamps.

Each type bounds its input so that bad input is refused with a 422 before it reaches the
database (an id beyond the column's range or a NUL character would otherwise fail there).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# Integer primary keys are 32-bit on PostgreSQL.
MAX_ID = 2_147_483_647
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
# Far beyond any notebook; deeper documents cannot be answered back (serializer limit).
MAX_JSON_DEPTH = 100


class ErrorMessage(BaseModel):
    """The body of every 404, 409 and domain 422 answer."""

    detail: str


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; refuse it on every database alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of the supported range once converted to UTC") from exc


def _clean_json(value: Any, where: str = "", depth: int = 0) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"string at {where or '/'} contains a NUL character")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"number at {where or '/'} is not finite")
    elif isinstance(value, dict | list):
        if depth >= MAX_JSON_DEPTH:
            raise ValueError(f"nests deeper than {MAX_JSON_DEPTH} levels at {where}")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _clean_json(key, where, depth)
            _clean_json(item, f"{where}/{key}", depth + 1)


def _storable_json(value: dict[str, Any]) -> dict[str, Any]:
    _clean_json(value)
    return value


def trimmed(max_length: int) -> StringConstraints:
    """Constraints of a required name: trimmed, not blank, at most `max_length` characters."""
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


NO_NUL = AfterValidator(_no_nul)

FreeText = Annotated[str, NO_NUL]
UTCTimestamp = Annotated[
    datetime,
    AfterValidator(_utc),
    Field(description="ISO 8601; a value without a time zone is taken as UTC."),
]
JSONObject = Annotated[
    dict[str, Any],
    AfterValidator(_storable_json),
    Field(
        description="A JSON object: strings without NUL, finite numbers, "
        f"at most {MAX_JSON_DEPTH} levels deep."
    ),
]
EntityId = Annotated[int, Field(ge=1, le=MAX_ID)]

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Skip = Annotated[
    int, Query(ge=0, le=MAX_ID, description="How many items to pass over (0 or more).")
]
Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"How many items at most (1 to {MAX_LIMIT})."),
]


def id_query(description: str) -> Any:
    """An optional query parameter that filters a list by a referenced id."""
    return Query(ge=1, le=MAX_ID, description=description)


def responses(
    not_found: str | None = None, conflict: str | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI answers of a route, e.g. `responses(not_found="No class with this id.")`.

    A domain 422 (a referenced entity missing) has the same `{"detail": str}` body; it is
    described in the route's description, as the 422 entry documents validation errors.
    """
    described = {404: not_found, 409: conflict}
    return {
        code: {"model": ErrorMessage, "description": text}
        for code, text in described.items()
        if text is not None
    }


class RequestModel(BaseModel):
    """A request body: unknown fields are refused, so a misspelt field is not silently lost."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def refuse_nulls(body: BaseModel, *fields: str) -> None:
    """In a partial update, an omitted field stays as it is; null is refused for `fields`."""
    nulls = [
        name for name in fields if name in body.model_fields_set and getattr(body, name) is None
    ]
    if nulls:
        raise ValueError(f"{', '.join(nulls)} cannot be null")
