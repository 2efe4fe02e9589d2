"""`/users`: an admin creates, lists, changes and disables accounts; `/users/me` is anyone's."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from cellmon.auth.deps import AdminUser, CurrentUser
from cellmon.core.api_types import DEFAULT_LIMIT, Limit, PathId, Skip, responses
from cellmon.core.deps import BusDep, SessionDep
from cellmon.users import service
from cellmon.users.schemas import UserCreate, UserResponse, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])

NO_USER = "No account with this id."


@router.get("/me", response_model=UserResponse, summary="The signed-in account")
async def read_me(session: SessionDep, principal: CurrentUser) -> object:
    return await service.get_user(session, principal.user_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserResponse,
    summary="Create an account (admins)",
    responses={
        **responses(conflict="An account with this e-mail address already exists."),
        400: {"description": "The password is too weak; the message says why."},
    },
)
async def create_user(body: UserCreate, session: SessionDep, admin: AdminUser) -> object:
    try:
        return await service.create_user(session, admin, body)
    except service.WeakPassword as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc


@router.get("", response_model=list[UserResponse], summary="List accounts, by id (admins)")
async def list_users(
    session: SessionDep, _admin: AdminUser, skip: Skip = 0, limit: Limit = DEFAULT_LIMIT
) -> object:
    return await service.list_users(session, skip=skip, limit=limit)


@router.get(
    "/{user_id}",
    response_model=UserResponse,
    summary="Get an account (admins)",
    responses=responses(not_found=NO_USER),
)
async def get_user(user_id: PathId, session: SessionDep, _admin: AdminUser) -> object:
    return await service.get_user(session, user_id)


@router.patch(
    "/{user_id}",
    response_model=UserResponse,
    summary="Change an account's name or role, or disable it (admins)",
    description="Disabling (`is_active: false`) or a change of role ends the account's "
    "sessions at once. An admin cannot disable or demote itself.",
    responses=responses(not_found=NO_USER, conflict="An admin cannot lock itself out."),
)
async def update_user(
    user_id: PathId, body: UserUpdate, session: SessionDep, bus: BusDep, admin: AdminUser
) -> object:
    return await service.update_user(session, bus, admin, user_id, body)
