"""Rules on accounts as admins manage them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.audit import service as audit
from cellmon.auth import repository
from cellmon.auth import service as accounts
from cellmon.auth.principal import Principal, Role
from cellmon.auth.service import WeakPassword
from cellmon.core.bus import MessageBus
from cellmon.core.errors import ConflictError, NotFoundError
from cellmon.db.models import User
from cellmon.users.schemas import UserCreate, UserUpdate

__all__ = ["WeakPassword", "create_user", "get_user", "list_users", "update_user"]


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await repository.get(session, user_id)
    if user is None:
        raise NotFoundError(f"account {user_id} does not exist")
    return user


async def list_users(session: AsyncSession, *, skip: int, limit: int) -> Sequence[User]:
    return await repository.list_users(session, skip=skip, limit=limit)


async def create_user(session: AsyncSession, admin: Principal, body: UserCreate) -> User:
    user = await accounts.create_user(
        session, email=body.email, password=body.password, role=body.role, full_name=body.full_name
    )
    await audit.record(
        session, admin, "user.create", "user", user.id, email=user.email, role=user.role
    )
    return user


async def update_user(
    session: AsyncSession, bus: MessageBus, admin: Principal, user_id: int, body: UserUpdate
) -> User:
    user = await get_user(session, user_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if user.id == admin.user_id and (
        changes.get("is_active") is False or changes.get("role", Role.ADMIN) is not Role.ADMIN
    ):
        raise ConflictError("an admin cannot disable or demote its own account")
    ends_sessions = changes.get("is_active") is False or (
        "role" in changes and changes["role"] != user.role
    )
    for field, value in changes.items():
        setattr(user, field, value.value if isinstance(value, Role) else value)
    if ends_sessions:
        accounts.end_all_sessions(session, bus, user)
    await audit.record(
        session,
        admin,
        "user.update",
        "user",
        user.id,
        **{
            key: (value.value if isinstance(value, Role) else value)
            for key, value in changes.items()
        },
    )
    return user
