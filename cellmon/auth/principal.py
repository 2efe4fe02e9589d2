"""The signed-in account a request acts for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    INSTRUCTOR = "instructor"
    STUDENT = "student"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    email: str
    role: Role
    # The token it presented, so that signing out revokes exactly that one.
    token_id: str
    token_expires_at: int
    # Came with the session cookie (the dashboard) rather than a bearer token.
    via_cookie: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_student(self) -> bool:
        return self.role is Role.STUDENT

    @property
    def is_staff(self) -> bool:
        """An admin or an instructor: may create classes and read what its classes hold."""
        return self.role is not Role.STUDENT
