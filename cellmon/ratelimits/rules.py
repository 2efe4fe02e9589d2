"""The rate limits of the API, one definition each, read from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from cellmon.core.ratelimit import RateLimit
from cellmon.core.settings import Settings


@dataclass(frozen=True, slots=True)
class RateLimitRules:
    """Each limit, or None where its setting is "0"."""

    # Sign-in attempts (POST /auth/token, /auth/session), right or wrong: brute force.
    signin_per_account: RateLimit | None
    signin_per_address: RateLimit | None
    # POST /events: per ingest key (hashed) and per client address, against floods.
    ingest_per_key: RateLimit | None
    ingest_per_address: RateLimit | None
    # Every other write under the API: per signed-in account, or per address without one.
    writes_per_user: RateLimit | None

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimitRules:
        def limit(name: str, setting: str, *, hot: bool = False) -> RateLimit | None:
            value: str = getattr(settings, setting)
            return RateLimit.from_setting(name, setting, value, hot=hot)

        return cls(
            signin_per_account=limit("signin-account", "CELLMON_RATE_LIMIT_SIGNIN_PER_ACCOUNT"),
            signin_per_address=limit("signin-address", "CELLMON_RATE_LIMIT_SIGNIN_PER_ADDRESS"),
            # Hot: counted in the process and shared in the background (core/ratelimit.py),
            # so that the single-event route pays no Redis round trip.
            ingest_per_key=limit("ingest-key", "CELLMON_RATE_LIMIT_INGEST_PER_KEY", hot=True),
            ingest_per_address=limit(
                "ingest-address", "CELLMON_RATE_LIMIT_INGEST_PER_ADDRESS", hot=True
            ),
            writes_per_user=limit("writes", "CELLMON_RATE_LIMIT_WRITES_PER_USER"),
        )
