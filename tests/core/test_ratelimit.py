"""The limiter: counts per limit and identifier, in memory and shared through Redis, and
counting on alone when Redis is down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from cellmon.core.errors import ConfigError
from cellmon.core.ratelimit import (
    MemoryRateLimiter,
    RateLimit,
    RateLimiter,
    RedisRateLimiter,
    parse_limit,
)
from cellmon.core.settings import load_settings
from tests.ratelimits.redis_keys import keys_under, redis_prefix, redis_url


def limit(value: str, *, hot: bool = False, name: str = "test") -> RateLimit:
    made = RateLimit.from_setting(name, "CELLMON_RATE_LIMIT_TEST", value, hot=hot)
    assert made is not None
    return made


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async for value in redis_prefix():
        yield value


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[RateLimiter]:
    made: RateLimiter = (
        MemoryRateLimiter() if request.param == "memory" else RedisRateLimiter(redis_url(), prefix)
    )
    await made.start()
    try:
        yield made
    finally:
        await made.close()


@pytest.mark.parametrize("hot", [False, True])
async def test_a_limit_refuses_the_hit_after_its_count(limiter: RateLimiter, hot: bool) -> None:
    three = limit("3/minute", hot=hot)
    for _ in range(3):
        assert (await limiter.hit(three, "alice")).allowed
    refused = await limiter.hit(three, "alice")
    assert not refused.allowed
    assert 1 <= refused.retry_after <= 60
    # Another identifier, and another limit for the same identifier, have budgets of their own.
    assert (await limiter.hit(three, "bob")).allowed
    assert (await limiter.hit(limit("3/minute", hot=hot, name="other"), "alice")).allowed


async def test_redis_counts_live_under_the_deployment_prefix(prefix: str) -> None:
    limiter = RedisRateLimiter(redis_url(), prefix)
    await limiter.start()
    try:
        await limiter.hit(limit("5/minute"), "someone")
    finally:
        await limiter.close()
    keys = await keys_under(prefix)
    assert keys
    assert all(key.startswith(f"{prefix}:ratelimit:") for key in keys)


async def test_hot_counts_of_two_processes_add_up_in_redis(prefix: str) -> None:
    """Each process admits on its own, shares its hits, and learns the others'."""
    hot = limit("100/minute", hot=True)
    first, second = RedisRateLimiter(redis_url(), prefix), RedisRateLimiter(redis_url(), prefix)
    try:
        for _ in range(60):
            assert (await first.hit(hot, "nat")).allowed
        await first.share()
        for _ in range(40):
            assert (await second.hit(hot, "nat")).allowed
        await second.share()
        # The second has learnt the first's 60: the shared total is spent.
        assert not (await second.hit(hot, "nat")).allowed
    finally:
        await first.close()
        await second.close()


async def test_a_quiet_hot_counter_costs_redis_nothing(prefix: str) -> None:
    """Below a hundredth of the limit a process keeps its hits to itself."""
    limiter = RedisRateLimiter(redis_url(), prefix)
    try:
        for _ in range(9):
            await limiter.hit(limit("1000/minute", hot=True), "one-student")
        await limiter.share()
        assert await keys_under(prefix) == []
    finally:
        await limiter.close()


@pytest.mark.parametrize("hot", [False, True])
async def test_redis_down_counts_in_the_process_and_warns_once(
    hot: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 1 on the loopback refuses connections at once.
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", "unreachable")
    two = limit("2/minute", hot=hot)
    await limiter.start()
    try:
        with caplog.at_level(logging.WARNING, logger="cellmon.core.ratelimit"):
            assert (await limiter.hit(two, "x")).allowed
            await limiter.share()
            assert (await limiter.hit(two, "x")).allowed
            await limiter.share()
            assert not (await limiter.hit(two, "x")).allowed
            assert (await limiter.hit(limit("9/minute"), "y")).allowed
    finally:
        await limiter.close()
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1


def test_zero_turns_a_limit_off_and_nonsense_is_refused() -> None:
    assert parse_limit("0") is None
    assert parse_limit("10/5 minutes") is not None
    with pytest.raises(ValueError, match="not a rate limit"):
        parse_limit("ten a minute")


def test_a_bad_limit_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELLMON_RATE_LIMIT_INGEST_PER_KEY", "lots")
    with pytest.raises(ConfigError, match="CELLMON_RATE_LIMIT_INGEST_PER_KEY"):
        load_settings()
