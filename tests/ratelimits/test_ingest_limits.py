"""POST /api/v1/events: per ingest key and per address, 429 + Retry-After over either; the
key itself never reaches Redis; an unreachable Redis refuses no event."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cellmon.core.ratelimit import RedisRateLimiter, digest
from cellmon.core.settings import Settings
from tests.events.helpers import client_event
from tests.ratelimits.redis_keys import keys_under

EVENTS = "/api/v1/events"


@pytest.fixture
def settings_overrides(limit_storage: dict[str, Any]) -> dict[str, Any]:
    return {
        **limit_storage,
        "CELLMON_RATE_LIMIT_INGEST_PER_KEY": "2/minute",
        "CELLMON_RATE_LIMIT_INGEST_PER_ADDRESS": "4/minute",
    }


async def post(http: httpx.AsyncClient, key: str | None = None) -> httpx.Response:
    params = {"key": key} if key is not None else None
    return await http.post(EVENTS, params=params, json=[client_event()])


def assert_limited(response: httpx.Response, setting: str) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert setting in response.json()["detail"]


async def test_events_per_address_stop_at_the_limit(anonymous_client: httpx.AsyncClient) -> None:
    for _ in range(4):
        assert (await post(anonymous_client)).status_code == 202
    assert_limited(await post(anonymous_client), "CELLMON_RATE_LIMIT_INGEST_PER_ADDRESS")


async def test_events_per_key_stop_at_the_limit_whatever_the_address(
    app: FastAPI, anonymous_client: httpx.AsyncClient
) -> None:
    key = "a-class-key-that-is-not-registered"
    for _ in range(2):
        assert (await post(anonymous_client, key)).status_code != 429
    assert_limited(await post(anonymous_client, key), "CELLMON_RATE_LIMIT_INGEST_PER_KEY")
    # Another address with the same key: the key's budget is spent.
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.0.0.9", 5000)),
        base_url="http://testserver",
    )
    async with other:
        assert_limited(await post(other, key), "CELLMON_RATE_LIMIT_INGEST_PER_KEY")
        # Another key from the first address still has its own budget (the address has two
        # of its four left).
        assert (await post(anonymous_client, "another-class-key")).status_code != 429


async def test_the_key_is_counted_hashed(
    app: FastAPI, anonymous_client: httpx.AsyncClient, settings: Settings
) -> None:
    key = "visible-key-material"
    for _ in range(3):
        await post(anonymous_client, key)
    if isinstance(app.state.limiter, RedisRateLimiter):
        await app.state.limiter.share()
        keys = await keys_under(settings.CELLMON_REDIS_PREFIX)
        assert any(digest(key) in stored for stored in keys)
        assert not any(key in stored for stored in keys)


async def test_the_cors_preflight_is_never_counted(anonymous_client: httpx.AsyncClient) -> None:
    preflight = {
        "Origin": "http://localhost:8888",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    for _ in range(10):
        assert (await anonymous_client.options(EVENTS, headers=preflight)).status_code == 200
    assert (await post(anonymous_client)).status_code == 202


async def test_a_429_carries_the_cors_headers(anonymous_client: httpx.AsyncClient) -> None:
    """The student's browser must be able to read the answer."""
    origin = {"Origin": "http://localhost:8888"}
    for _ in range(4):
        await anonymous_client.post(EVENTS, json=[client_event()], headers=origin)
    refused = await anonymous_client.post(EVENTS, json=[client_event()], headers=origin)
    assert refused.status_code == 429
    assert refused.headers["access-control-allow-origin"] == "http://localhost:8888"


async def test_an_unreachable_redis_refuses_no_event(
    app: FastAPI, anonymous_client: httpx.AsyncClient
) -> None:
    unreachable = RedisRateLimiter("redis://127.0.0.1:1/0", "unreachable", share_seconds=0.01)
    await unreachable.start()
    app.state.limiter = unreachable
    try:
        for _ in range(4):
            assert (await post(anonymous_client)).status_code == 202
    finally:
        await unreachable.close()
