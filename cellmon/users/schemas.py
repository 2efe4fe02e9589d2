from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from cellmon.auth.principal import Role
from cellmon.core.api_types import NO_NUL, RequestModel, ResponseModel, trimmed

EmailAddress = Annotated[
    str,
    trimmed(320),
    NO_NUL,
    Field(pattern=r"^[^@\s]+@[^@\s]+$", description="The sign-in name; stored lower-cased."),
]
FullName = Annotated[str, trimmed(255), NO_NUL]


class UserCreate(RequestModel):
    email: EmailAddress
    password: str = Field(min_length=1, max_length=256)
    role: Role
    full_name: FullName | None = None


class UserUpdate(RequestModel):
    """Partial: what is left out stays as it is."""

    full_name: FullName | None = None
    role: Role | None = None
    is_active: bool | None = Field(
        default=None, description="false disables the account and ends its sessions."
    )


class UserResponse(ResponseModel):
    id: int
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
