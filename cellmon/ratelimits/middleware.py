"""The write limits, applied before routing (the events route counts its own: service.py)."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from cellmon.auth.deps import SESSION_COOKIE
from cellmon.auth.tokens import InvalidToken, TokenCodec
from cellmon.core.http import app_path
from cellmon.ratelimits.rules import RateLimitRules
from cellmon.ratelimits.service import client_address, first_refusal, limiter_of, refusal_response

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RateLimits:
    """Counts every write under the API per account (the signature of its token checked) or
    per address; answers 429 with Retry-After over the limit.

    Installed inside CORSMiddleware, so that a browser's client reads the 429 rather than a
    blocked response. Sign-in is limited in its route (auth/router.py), where the e-mail
    address is read; the events route, served before every middleware (core/http.py
    DirectRoutes), counts its own hits per key and per address (`ingest_refusal`).
    """

    def __init__(self, app: ASGIApp, rules: RateLimitRules, api_prefix: str) -> None:
        self.app = app
        self._rules = rules
        self._api_prefix = f"{api_prefix}/"
        self._not_writes = frozenset(
            {f"{api_prefix}/events", f"{api_prefix}/auth/token", f"{api_prefix}/auth/session"}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in WRITE_METHODS:
            path = app_path(scope)
            if path.startswith(self._api_prefix) and path not in self._not_writes:
                refused = await first_refusal(
                    limiter_of(scope), [(self._rules.writes_per_user, _writer(scope))]
                )
                if refused is not None:
                    await refusal_response(*refused)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _writer(scope: Scope) -> str:
    """The account whose token signs the request (its signature checked, so that nobody spends
    another's budget), or the client's address."""
    connection = HTTPConnection(scope)
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        token = connection.cookies.get(SESSION_COOKIE, "")
    if token:
        codec: TokenCodec = scope["app"].state.tokens
        try:
            return f"user:{codec.decode(token.strip()).user_id}"
        except InvalidToken:
            pass
    return f"address:{client_address(scope)}"
