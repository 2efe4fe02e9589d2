"""The ingest and write limits, applied before any route (the direct ingest route included)."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from cellmon.auth.deps import SESSION_COOKIE
from cellmon.auth.tokens import InvalidToken, TokenCodec
from cellmon.core.ratelimit import RateLimit, digest
from cellmon.ingestkeys.service import ingest_key
from cellmon.ratelimits.rules import RateLimitRules
from cellmon.ratelimits.service import (
    client_address,
    first_refusal,
    limiter_of,
    refusal_response,
)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DIGEST_CACHE_SIZE = 4096


class RateLimits:
    """Counts `POST {api}/events` per ingest key and per address, and every other write under
    the API per account (the signature of its token checked) or per address; answers 429
    with Retry-After over a limit.

    Installed inside CORSMiddleware, so that a browser's client reads the 429 rather than a
    blocked response, and outside DirectRoutes, which serves the events route. Sign-in is
    limited in its route (auth/router.py), where the e-mail address is read.
    """

    def __init__(self, app: ASGIApp, rules: RateLimitRules, api_prefix: str) -> None:
        self.app = app
        self._rules = rules
        self._events_path = f"{api_prefix}/events"
        self._api_prefix = f"{api_prefix}/"
        self._digests: dict[str, str] = {}
        self._not_writes = frozenset(
            {self._events_path, f"{api_prefix}/auth/token", f"{api_prefix}/auth/session"}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in WRITE_METHODS:
            path: str = scope["path"]
            root_path: str = scope.get("root_path", "")
            if root_path and path.startswith(root_path):
                path = path[len(root_path) :]
            if path == self._events_path:
                checks = self._ingest_checks(scope)
            elif path.startswith(self._api_prefix) and path not in self._not_writes:
                checks = self._write_checks(scope)
            else:
                checks = []
            refused = await first_refusal(limiter_of(scope), checks) if checks else None
            if refused is not None:
                await refusal_response(*refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _ingest_checks(self, scope: Scope) -> list[tuple[RateLimit | None, str]]:
        checks: list[tuple[RateLimit | None, str]] = []
        key = ingest_key(scope["query_string"])
        if key:
            checks.append((self._rules.ingest_per_key, self._digest(key)))
        checks.append((self._rules.ingest_per_address, client_address(scope)))
        return checks

    def _digest(self, key: str) -> str:
        """A class's students send the same few keys all day: each is hashed once."""
        digested = self._digests.get(key)
        if digested is None:
            if len(self._digests) >= DIGEST_CACHE_SIZE:
                self._digests.clear()
            digested = self._digests[key] = digest(key)
        return digested

    def _write_checks(self, scope: Scope) -> list[tuple[RateLimit | None, str]]:
        return [(self._rules.writes_per_user, _writer(scope))]


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
