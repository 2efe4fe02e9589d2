"""Sign-in attempts per account and per address (brute force): every attempt counts, right
or wrong, and past the limit even the right password is refused with 429 + Retry-After."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.accounts import TEST_PASSWORD, create_account
from tests.events.helpers import redis_overrides, redis_prefix

__all__ = ["redis_prefix"]


@pytest.fixture(params=["memory", "redis"])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    storage = (
        redis_overrides(request.getfixturevalue("redis_prefix")) if request.param == "redis" else {}
    )
    return {
        **storage,
        "CELLMON_RATE_LIMIT_SIGNIN_PER_ACCOUNT": "3/5 minutes",
        "CELLMON_RATE_LIMIT_SIGNIN_PER_ADDRESS": "5/5 minutes",
    }


@pytest.fixture(params=["/api/v1/auth/token", "/api/v1/auth/session"])
def sign_in_path(request: pytest.FixtureRequest) -> str:
    path: str = request.param
    return path


async def sign_in(http: httpx.AsyncClient, path: str, email: str, password: str) -> httpx.Response:
    return await http.post(path, data={"username": email, "password": password})


def assert_limited(response: httpx.Response, setting: str) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= 300
    assert setting in response.json()["detail"]


async def test_an_account_takes_a_few_attempts_then_refuses_even_the_right_password(
    app: FastAPI, anonymous_client: httpx.AsyncClient, sign_in_path: str
) -> None:
    await create_account(app, "teacher@example.org", "instructor")
    for _ in range(3):
        assert (
            await sign_in(anonymous_client, sign_in_path, "teacher@example.org", "guess")
        ).status_code == 401
    assert_limited(
        # The address is counted the same way however the e-mail address is written.
        await sign_in(anonymous_client, sign_in_path, " Teacher@Example.org", TEST_PASSWORD),
        "CELLMON_RATE_LIMIT_SIGNIN_PER_ACCOUNT",
    )
    # From another address too: the account's budget is spent.
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.1.2.3", 4000)),
        base_url="http://testserver",
    )
    async with other:
        assert_limited(
            await sign_in(other, sign_in_path, "teacher@example.org", TEST_PASSWORD),
            "CELLMON_RATE_LIMIT_SIGNIN_PER_ACCOUNT",
        )


async def test_an_address_takes_a_few_attempts_over_every_account(
    app: FastAPI, anonymous_client: httpx.AsyncClient, sign_in_path: str
) -> None:
    await create_account(app, "student@example.org", "student")
    for n in range(5):
        response = await sign_in(anonymous_client, sign_in_path, f"s{n}@example.org", "guess")
        assert response.status_code == 401
    assert_limited(
        await sign_in(anonymous_client, sign_in_path, "student@example.org", TEST_PASSWORD),
        "CELLMON_RATE_LIMIT_SIGNIN_PER_ADDRESS",
    )
    # Another address signs in.
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.1.2.4", 4000)),
        base_url="http://testserver",
    )
    async with other:
        response = await sign_in(other, sign_in_path, "student@example.org", TEST_PASSWORD)
        assert response.status_code == 200
