"""`/auth`: sign in (OAuth2 password flow, or the dashboard's cookie), refresh, sign out,
change one's password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from cellmon.auth import repository, service
from cellmon.auth.deps import (
    BEARER_CHALLENGE,
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentUser,
    from_own_origin,
    token_codec,
)
from cellmon.auth.schemas import AccessToken, PasswordChange
from cellmon.auth.tokens import IssuedToken
from cellmon.core.deps import BusDep, SessionDep
from cellmon.db.models import User
from cellmon.ratelimits.service import check_sign_in
from cellmon.users.schemas import UserResponse

router = APIRouter(prefix="/auth", tags=["auth"])

WRONG_CREDENTIALS = "wrong e-mail address or password, or the account is disabled"
SIGN_IN_ANSWERS: dict[int | str, dict[str, object]] = {
    401: {"description": WRONG_CREDENTIALS},
    429: {
        "description": "Too many attempts for this account or from this address; "
        "retry after Retry-After seconds."
    },
}
SignInForm = Annotated[OAuth2PasswordRequestForm, Depends()]


async def _sign_in(request: Request, session: SessionDep, form: OAuth2PasswordRequestForm) -> User:
    # Counted before the password is checked: right or wrong, every attempt spends the budget.
    await check_sign_in(request, form.username)
    user = await service.authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, WRONG_CREDENTIALS, BEARER_CHALLENGE)
    return user


def _answer(issued: IssuedToken) -> AccessToken:
    return AccessToken(access_token=issued.token, expires_in=issued.expires_in)


@router.post(
    "/token",
    summary="Sign in: an access token for an e-mail address and password (OAuth2 password flow)",
    responses=SIGN_IN_ANSWERS,
)
async def issue_token(request: Request, session: SessionDep, form: SignInForm) -> AccessToken:
    user = await _sign_in(request, session, form)
    return _answer(token_codec(request).issue(user.id))


@router.post(
    "/refresh",
    summary="A fresh token for the one presented, which stops working",
)
async def refresh_token(
    request: Request, session: SessionDep, bus: BusDep, principal: CurrentUser
) -> AccessToken:
    issued = token_codec(request).issue(principal.user_id)
    await service.retire_refreshed(session, bus, principal)
    return _answer(issued)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: the token (or session cookie) presented stops working",
)
async def logout(
    session: SessionDep, bus: BusDep, principal: CurrentUser, response: Response
) -> None:
    await service.sign_out(session, bus, principal)
    clear_session_cookies(response)


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change one's own password; every session of the account ends",
    responses={400: {"description": "The current password is wrong or the new one too weak."}},
)
async def change_password(
    body: PasswordChange,
    session: SessionDep,
    bus: BusDep,
    principal: CurrentUser,
    response: Response,
) -> None:
    user = await repository.get(session, principal.user_id)
    assert user is not None  # the principal was just loaded
    try:
        changed = await service.change_own_password(
            session, bus, user, body.current_password, body.new_password
        )
    except service.WeakPassword as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    if not changed:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the current password is wrong")
    clear_session_cookies(response)


@router.post(
    "/session",
    response_model=UserResponse,
    summary="Sign in the browser: sets the HttpOnly session cookie and the CSRF cookie",
    description="For the dashboard. Writes with the cookie must send the `cellmon_csrf` "
    "cookie's value in the `X-CSRF-Token` header.",
    responses=SIGN_IN_ANSWERS,
)
async def open_session(
    request: Request, session: SessionDep, form: SignInForm, response: Response
) -> User:
    if not from_own_origin(request):
        # Login CSRF: another site's form would sign the visitor's browser into an account
        # of the attacker's choosing.
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the session sign-in is accepted from this server's own pages only",
        )
    user = await _sign_in(request, session, form)
    set_session_cookies(request, response, token_codec(request).issue(user.id, with_csrf=True))
    return user


def set_session_cookies(request: Request, response: Response, issued: IssuedToken) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=issued.expires_in,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    # Readable by the page's script, which echoes it in X-CSRF-Token; useless to another site,
    # which can neither read it nor set the header.
    response.set_cookie(
        CSRF_COOKIE,
        issued.csrf or "",
        max_age=issued.expires_in,
        httponly=False,
        samesite="strict",
        secure=secure,
        path="/",
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
