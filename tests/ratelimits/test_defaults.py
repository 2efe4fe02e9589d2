"""The default limits hold a real class: 200 students behind one NAT address, every one
running a 100-cell notebook at once, every event tried four times (the client's three
retries), within one minute; and the sign-in defaults hold the class signing in at once."""

from __future__ import annotations

from cellmon.core.ratelimit import MemoryRateLimiter
from cellmon.ratelimits.rules import RateLimitRules
from tests.services import make_settings

STUDENTS = 200
CELLS = 100
TRIES = 4  # the first send and the client's three retries on 5xx / time-outs


async def test_a_class_running_everything_at_once_with_retries_is_never_refused() -> None:
    rules = RateLimitRules.from_settings(make_settings())
    assert rules.ingest_per_key is not None
    assert rules.ingest_per_address is not None
    limiter = MemoryRateLimiter()
    for _ in range(STUDENTS * CELLS * TRIES):
        assert (await limiter.hit(rules.ingest_per_key, "the-class-key")).allowed
        assert (await limiter.hit(rules.ingest_per_address, "the-nat-address")).allowed


def test_two_such_classes_fit_behind_one_address() -> None:
    """A key is one class; an address may be a whole building's NAT."""
    rules = RateLimitRules.from_settings(make_settings())
    assert rules.ingest_per_key is not None
    assert rules.ingest_per_address is not None
    burst = STUDENTS * CELLS * TRIES
    assert rules.ingest_per_key.amount >= burst
    assert rules.ingest_per_key.seconds <= 60
    assert rules.ingest_per_address.amount >= 2 * burst


def test_a_class_signing_in_at_once_fits_the_address_limit() -> None:
    rules = RateLimitRules.from_settings(make_settings())
    assert rules.signin_per_address is not None
    # Every student once, a quarter of them mistyping once.
    assert rules.signin_per_address.amount >= STUDENTS + STUDENTS // 4
