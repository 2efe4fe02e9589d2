"""Who may keep a /ws connection open: a signed-in account, within this process's counts of
connections per account and per client address, until its token expires.

A refused upgrade is accepted first and then closed with an application close code (after
an error frame saying why): a browser sees the code and reason in its `close` event, whereas
an HTTP 403 to the upgrade would reach it as a bare 1006, the same as a network failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket

from cellmon.auth.deps import NotSignedIn, authenticate, from_own_origin
from cellmon.auth.principal import Principal
from cellmon.core.database import Database
from cellmon.core.settings import Settings

# Close codes 4000-4999 are the application's own (RFC 6455 section 7.4.2); these mirror
# the HTTP statuses they stand for.
CLOSE_NOT_SIGNED_IN = 4401
CLOSE_FOREIGN_ORIGIN = 4403
CLOSE_TOO_MANY_CONNECTIONS = 4429
# RFC 6455's "Try Again Later": the sign-in could not be checked (the database is down).
CLOSE_TRY_AGAIN_LATER = 1013

SIGN_IN_HINT = (
    "sign in first: send 'Authorization: Bearer <access token>' with the upgrade request, "
    "or open the socket from the signed-in dashboard (its session cookie)"
)


class Refused(Exception):
    """The connection may not stay open: closed with `code` after an error frame."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason  # short: a close reason holds at most 123 bytes
        self.message = message


class ConnectionCounter:
    """How many /ws connections each key (an account, a client address) holds open here."""

    def __init__(self, per: str) -> None:
        self.per = per
        self._open: dict[Hashable, int] = {}

    @contextmanager
    def slot(self, key: Hashable, limit: int) -> Iterator[None]:
        held = self._open.get(key, 0)
        if held >= limit:
            raise Refused(
                CLOSE_TOO_MANY_CONNECTIONS,
                f"too many connections per {self.per}",
                f"too many connections: at most {limit} open /ws connections per {self.per} "
                f"on this server process (close code {CLOSE_TOO_MANY_CONNECTIONS}); "
                "close one and try again",
            )
        self._open[key] = held + 1
        try:
            yield
        finally:
            remaining = self._open[key] - 1
            if remaining:
                self._open[key] = remaining
            else:
                del self._open[key]

    def held(self, key: Hashable) -> int:
        return self._open.get(key, 0)


class ConnectionCounts:
    """This process's open /ws connections per account and per client address."""

    def __init__(self) -> None:
        self.by_user = ConnectionCounter("account")
        self.by_address = ConnectionCounter("client address")


async def signed_in_principal(websocket: WebSocket, database: Database) -> Principal:
    """The account of the upgrade request (bearer header or session cookie, never the URL)."""
    try:
        async with database.sessions() as session:
            principal = await authenticate(websocket, session)
    except NotSignedIn as exc:
        raise Refused(CLOSE_NOT_SIGNED_IN, "not signed in", str(exc.detail)) from exc
    except (SQLAlchemyError, OSError) as exc:
        raise Refused(
            CLOSE_TRY_AGAIN_LATER,
            "try again later",
            "the sign-in could not be checked just now; reconnect in a few seconds",
        ) from exc
    if principal is None:
        raise Refused(CLOSE_NOT_SIGNED_IN, "not signed in", SIGN_IN_HINT)
    if principal.via_cookie and not from_own_origin(websocket):
        # A browser sends the cookie with any page's upgrade request, even from another
        # site's script (SameSite does not cover another port of the same host, such as a
        # JupyterLab): only the dashboard's own pages may use it.
        raise Refused(
            CLOSE_FOREIGN_ORIGIN,
            "foreign origin",
            "the session cookie is accepted from this server's own pages only; "
            "other clients send 'Authorization: Bearer <access token>'",
        )
    return principal


@asynccontextmanager
async def admitted(
    websocket: WebSocket, counts: ConnectionCounts, database: Database, settings: Settings
) -> AsyncIterator[Principal]:
    """The connection's account, holding its slots until the block ends; Refused otherwise.

    The address is counted first, so a flood of upgrades from one address is turned away
    before each costs a database query. A server that does not know the client's address
    (a Unix socket without proxy headers) counts per account only.
    """
    client = websocket.scope.get("client")
    address = client[0] if client else None
    with (
        counts.by_address.slot(address, settings.CELLMON_WS_MAX_CONNECTIONS_PER_ADDRESS)
        if address is not None
        else nullcontext()
    ):
        principal = await signed_in_principal(websocket, database)
        with counts.by_user.slot(principal.user_id, settings.CELLMON_WS_MAX_CONNECTIONS_PER_USER):
            yield principal
