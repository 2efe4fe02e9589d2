from __future__ import annotations

from typing import Literal

from pydantic import Field

from cellmon.core.api_types import RequestModel


class AccessToken(RequestModel):
    """OAuth2's token answer."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class PasswordChange(RequestModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)
