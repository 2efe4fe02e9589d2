"""Counting a request against its limits, and the answer to one over a limit."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection
from starlette.types import Scope

from cellmon.auth.service import normalise_email
from cellmon.core.ratelimit import RateLimit, RateLimiter, Verdict, digest
from cellmon.ratelimits.rules import RateLimitRules

logger = logging.getLogger(__name__)

# A limit that keeps refusing is logged once a minute, not once a request.
REPORT_EVERY_SECONDS = 60.0
_last_reported: dict[str, float] = {}


class RateLimited(HTTPException):
    """429 with Retry-After; the detail names the limit and its setting."""

    def __init__(self, limit: RateLimit, verdict: Verdict) -> None:
        super().__init__(
            status.HTTP_429_TOO_MANY_REQUESTS,
            refusal_detail(limit, verdict),
            headers={"Retry-After": str(verdict.retry_after)},
        )


def refusal_detail(limit: RateLimit, verdict: Verdict) -> str:
    return (
        f"rate limit reached: {limit.setting} allows {limit.describe()}; "
        f"retry after {verdict.retry_after} s"
    )


def refusal_response(limit: RateLimit, verdict: Verdict) -> JSONResponse:
    return JSONResponse(
        {"detail": refusal_detail(limit, verdict)},
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(verdict.retry_after)},
    )


def client_address(scope: Scope) -> str:
    """The client's address as uvicorn saw it (behind a proxy: from X-Forwarded-For when the
    proxy is one of FORWARDED_ALLOW_IPS)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# A class's students send the same few keys all day: each is hashed once.
_key_digest = functools.lru_cache(maxsize=4096)(digest)


async def ingest_refusal(scope: Scope, key: str | None) -> tuple[RateLimit, Verdict] | None:
    """Counts an events request per ingest key (when it has one) and per address."""
    rules: RateLimitRules = scope["app"].state.rate_limit_rules
    checks: list[tuple[RateLimit | None, str]] = []
    if key:
        checks.append((rules.ingest_per_key, _key_digest(key)))
    checks.append((rules.ingest_per_address, client_address(scope)))
    return await first_refusal(limiter_of(scope), checks)


def rules_of(connection: HTTPConnection) -> RateLimitRules:
    rules: RateLimitRules = connection.app.state.rate_limit_rules
    return rules


def limiter_of(scope: Scope) -> RateLimiter:
    limiter: RateLimiter = scope["app"].state.limiter
    return limiter


async def first_refusal(
    limiter: RateLimiter, checks: Iterable[tuple[RateLimit | None, str]]
) -> tuple[RateLimit, Verdict] | None:
    """Counts the hit against each limit in turn; the first that refuses it, with its verdict
    (the later ones are not counted)."""
    for limit, identifier in checks:
        if limit is None:
            continue
        verdict = await limiter.hit(limit, identifier)
        if not verdict.allowed:
            _report(limit)
            return limit, verdict
    return None


def _report(limit: RateLimit) -> None:
    now = time.monotonic()
    if now - _last_reported.get(limit.setting, -REPORT_EVERY_SECONDS) >= REPORT_EVERY_SECONDS:
        _last_reported[limit.setting] = now
        logger.warning(
            "rate limit %s (%s) refused a request with 429; reported once a minute",
            limit.setting,
            limit.describe(),
        )


async def check_sign_in(connection: HTTPConnection, email: str) -> None:
    """Counts a sign-in attempt per address and per account; RateLimited over either."""
    rules = rules_of(connection)
    refused = await first_refusal(
        limiter_of(connection.scope),
        (
            (rules.signin_per_address, client_address(connection.scope)),
            (rules.signin_per_account, digest(normalise_email(email))),
        ),
    )
    if refused is not None:
        raise RateLimited(*refused)
