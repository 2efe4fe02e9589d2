"""Who the request is from: a bearer token (`Authorization: Bearer …`) or the dashboard's
session cookie, which must come with its CSRF value on every write."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from cellmon.auth import repository
from cellmon.auth.access import Access
from cellmon.auth.principal import Principal, Role
from cellmon.auth.service import token_is_current
from cellmon.auth.tokens import InvalidToken, TokenCodec
from cellmon.core.deps import SessionDep

SESSION_COOKIE = "cellmon_session"
CSRF_COOKIE = "cellmon_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
TOKEN_URL = "/api/v1/auth/token"


class NotSignedIn(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status.HTTP_401_UNAUTHORIZED, detail, headers=BEARER_CHALLENGE)


def token_codec(connection: HTTPConnection) -> TokenCodec:
    codec: TokenCodec = connection.app.state.tokens
    return codec


def _presented_token(connection: HTTPConnection) -> tuple[str, bool] | None:
    """The token and whether it came in the session cookie."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotSignedIn("the Authorization header must be 'Bearer <access token>'")
        return value.strip(), False
    cookie = connection.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else None


def from_own_origin(connection: HTTPConnection) -> bool:
    """Whether a browser sent the request from one of this server's own pages (a client
    that is no browser sends no Origin). Guards what a browser does on its own with the
    session cookie, which SameSite does not stop from another port of the same host."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    host = connection.headers.get("host", "")
    scheme, separator, authority = origin.partition("://")
    return bool(separator) and scheme in ("http", "https") and authority.lower() == host.lower()


async def authenticate(connection: HTTPConnection, session: AsyncSession) -> Principal | None:
    """The principal of a request or WebSocket upgrade; None when it presents no credential.

    Raises NotSignedIn for a credential that is not (or no longer) good.
    """
    presented = _presented_token(connection)
    if presented is None:
        return None
    token, via_cookie = presented
    try:
        claims = token_codec(connection).decode(token)
    except InvalidToken as exc:
        raise NotSignedIn("the access token is invalid or has expired; sign in again") from exc
    found = await repository.user_and_revocation(session, claims.user_id, claims.token_id)
    if found is None or found[1] or not token_is_current(found[0], claims.issued_at):
        raise NotSignedIn("this session has ended; sign in again")
    user = found[0]
    if via_cookie and connection.scope["type"] == "http":
        method: str = connection.scope["method"]
        if method not in SAFE_METHODS:
            sent = connection.headers.get(CSRF_HEADER, "")
            if claims.csrf is None or not hmac.compare_digest(sent, claims.csrf):
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    f"a write with the session cookie needs the {CSRF_HEADER} header "
                    f"(the value of the {CSRF_COOKIE} cookie)",
                )
    return Principal(
        user_id=user.id,
        email=user.email,
        role=Role(user.role),
        token_id=claims.token_id,
        token_expires_at=claims.expires_at,
        via_cookie=via_cookie,
    )


# Describes the bearer scheme in OpenAPI, so that /docs' Authorize button signs in; the
# token itself is read by `authenticate`, which also knows the cookie.
_oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


async def get_principal(
    connection: HTTPConnection,
    session: SessionDep,
    _documented: Annotated[str | None, Depends(_oauth2_scheme)],
) -> Principal:
    principal = await authenticate(connection, session)
    if principal is None:
        raise NotSignedIn(
            "sign in first: POST /api/v1/auth/token, then send 'Authorization: Bearer <token>'"
        )
    return principal


async def get_staff(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_staff:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only instructors and admins may do this")
    return principal


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only admins may do this")
    return principal


async def get_access(principal: Annotated[Principal, Depends(get_principal)]) -> Access:
    return Access(principal)


CurrentUser = Annotated[Principal, Depends(get_principal)]
StaffUser = Annotated[Principal, Depends(get_staff)]
AdminUser = Annotated[Principal, Depends(get_admin)]
AccessDep = Annotated[Access, Depends(get_access)]
