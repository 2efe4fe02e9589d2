"""Signing in and out: the OAuth2 password flow, refresh, revocation, password changes and the
dashboard's cookie session with its CSRF value."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.auth import passwords
from cellmon.auth.deps import CSRF_COOKIE, SESSION_COOKIE
from cellmon.core.settings import Settings
from cellmon.db.models import User
from tests.accounts import TEST_PASSWORD, create_account, signed_in
from tests.conftest import AppPool

ME = "/api/v1/users/me"


async def _token(
    client: httpx.AsyncClient, email: str, password: str = TEST_PASSWORD
) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def instructor(app: FastAPI) -> User:
    return await create_account(app, "Teacher@Example.org", "instructor", full_name="T. Eacher")


async def test_the_password_flow_gives_a_bearer_token_that_says_who_is_signed_in(
    anonymous_client: httpx.AsyncClient, instructor: User
) -> None:
    # The e-mail address is matched whatever its case or surrounding spaces.
    answer = await _token(anonymous_client, "  TEACHER@example.org ")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    me = await anonymous_client.get(ME, headers=_bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "teacher@example.org"
    assert me.json()["role"] == "instructor"
    assert "password_hash" not in me.json()


@pytest.mark.parametrize(
    ("email", "password"),
    [("teacher@example.org", "wrong password"), ("nobody@example.org", TEST_PASSWORD)],
)
async def test_a_wrong_password_or_address_gets_the_same_401(
    anonymous_client: httpx.AsyncClient, instructor: User, email: str, password: str
) -> None:
    answer = await _token(anonymous_client, email, password)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["detail"] == (
        "wrong e-mail address or password, or the account is disabled"
    )


async def test_a_hash_made_with_other_parameters_is_remade_at_sign_in(
    app: FastAPI, anonymous_client: httpx.AsyncClient, instructor: User
) -> None:
    # The suite hashes at the least cost (tests/conftest.py); argon2-cffi's defaults, which
    # production uses, stand for the parameters of an older release.
    older = PasswordHasher().hash(TEST_PASSWORD)
    async with app.state.database.sessions() as session:
        user = await session.get_one(User, instructor.id)
        user.password_hash = older
        await session.commit()

    assert (await _token(anonymous_client, instructor.email)).status_code == 200

    async with app.state.database.sessions() as session:
        remade = await session.scalar(select(User.password_hash).where(User.id == instructor.id))
    assert remade is not None
    assert remade != older
    assert remade.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert (await _token(anonymous_client, instructor.email)).status_code == 200


async def test_the_server_makes_the_decoy_hash_before_the_first_sign_in(
    settings: Settings, app_pool: AppPool
) -> None:
    # Made at the first sign-in for an unknown address instead, it would make that answer
    # twice as slow as a wrong password's, telling that the address has no account.
    passwords._decoy_hash.cache_clear()
    with app_pool.borrowed(settings) as application:
        async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
            assert passwords._decoy_hash.cache_info().currsize == 1


async def test_a_disabled_account_cannot_sign_in_and_its_tokens_stop(
    app: FastAPI, client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient, instructor: User
) -> None:
    token = (await _token(anonymous_client, instructor.email)).json()["access_token"]
    assert (await anonymous_client.get(ME, headers=_bearer(token))).status_code == 200
    disabled = await client.patch(f"/api/v1/users/{instructor.id}", json={"is_active": False})
    assert disabled.status_code == 200
    assert disabled.json()["is_active"] is False
    assert (await anonymous_client.get(ME, headers=_bearer(token))).status_code == 401
    assert (await _token(anonymous_client, instructor.email)).status_code == 401


async def test_nothing_but_a_valid_token_signs_in(
    app: FastAPI, anonymous_client: httpx.AsyncClient, instructor: User
) -> None:
    good = (await _token(anonymous_client, instructor.email)).json()["access_token"]
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-that-is-long-enough-to-sign", algorithm="HS256")
    expired = jwt.encode(
        {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
        "a-test-secret-that-is-long-enough-for-hs256-signing",
        algorithm="HS256",
    )
    unsigned = jwt.encode(claims, None, algorithm="none")
    for headers in (
        {},
        _bearer(forged),
        _bearer(expired),
        _bearer(unsigned),
        _bearer("not-a-jwt"),
        {"Authorization": f"Basic {good}"},
    ):
        answer = await anonymous_client.get(ME, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"


async def test_logout_revokes_that_token_only(
    anonymous_client: httpx.AsyncClient, instructor: User
) -> None:
    first = (await _token(anonymous_client, instructor.email)).json()["access_token"]
    second = (await _token(anonymous_client, instructor.email)).json()["access_token"]
    out = await anonymous_client.post("/api/v1/auth/logout", headers=_bearer(first))
    assert out.status_code == 204
    assert (await anonymous_client.get(ME, headers=_bearer(first))).status_code == 401
    assert (await anonymous_client.get(ME, headers=_bearer(second))).status_code == 200


async def test_refresh_gives_a_new_token_and_ends_the_old_one(
    anonymous_client: httpx.AsyncClient, instructor: User
) -> None:
    old = (await _token(anonymous_client, instructor.email)).json()["access_token"]
    answer = await anonymous_client.post("/api/v1/auth/refresh", headers=_bearer(old))
    assert answer.status_code == 200
    new = answer.json()["access_token"]
    assert new != old
    assert (await anonymous_client.get(ME, headers=_bearer(new))).status_code == 200
    assert (await anonymous_client.get(ME, headers=_bearer(old))).status_code == 401


async def test_a_password_change_ends_every_session_and_needs_the_current_password(
    anonymous_client: httpx.AsyncClient, instructor: User
) -> None:
    token = (await _token(anonymous_client, instructor.email)).json()["access_token"]
    wrong = await anonymous_client.post(
        "/api/v1/auth/password",
        headers=_bearer(token),
        json={"current_password": "not it at all", "new_password": "a brand new passphrase"},
    )
    assert wrong.status_code == 400
    assert wrong.json()["detail"] == "the current password is wrong"
    weak = await anonymous_client.post(
        "/api/v1/auth/password",
        headers=_bearer(token),
        json={"current_password": TEST_PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 400
    assert "at least 10 characters" in weak.json()["detail"]
    changed = await anonymous_client.post(
        "/api/v1/auth/password",
        headers=_bearer(token),
        json={"current_password": TEST_PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert changed.status_code == 204
    assert (await anonymous_client.get(ME, headers=_bearer(token))).status_code == 401
    assert (await _token(anonymous_client, instructor.email)).status_code == 401
    again = await _token(anonymous_client, instructor.email, "a brand new passphrase")
    assert again.status_code == 200


async def test_the_cookie_session_needs_its_csrf_value_on_writes(
    app: FastAPI, instructor: User
) -> None:
    async with signed_in(app, None) as browser:
        answer = await browser.post(
            "/api/v1/auth/session",
            data={"username": instructor.email, "password": TEST_PASSWORD},
        )
        assert answer.status_code == 200
        assert answer.json()["email"] == instructor.email
        cookies = answer.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
        assert "HttpOnly" in session_cookie
        assert "SameSite=lax" in session_cookie
        csrf = browser.cookies[CSRF_COOKIE]
        assert (await browser.get(ME)).status_code == 200
        # A write that reaches its rule only past the CSRF check.
        change = {"current_password": "not the password", "new_password": "whatever it is"}
        refused = await browser.post("/api/v1/auth/password", json=change)
        assert refused.status_code == 403
        assert "x-csrf-token" in refused.json()["detail"]
        wrong = await browser.post(
            "/api/v1/auth/password", json=change, headers={"X-CSRF-Token": csrf + "x"}
        )
        assert wrong.status_code == 403
        passed = await browser.post(
            "/api/v1/auth/password", json=change, headers={"X-CSRF-Token": csrf}
        )
        assert passed.status_code == 400
        assert passed.json()["detail"] == "the current password is wrong"
        out = await browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 204
        assert SESSION_COOKIE not in browser.cookies
        assert (await browser.get(ME)).status_code == 401


async def test_a_bearer_token_needs_no_csrf_value(app: FastAPI, instructor: User) -> None:
    async with signed_in(app, instructor) as http:
        answer = await http.post(
            "/api/v1/classes", json={"name": "Bearer 101", "class_code": "BEAR-1"}
        )
    assert answer.status_code == 201


@pytest.mark.parametrize("origin", ["http://evil.example", "http://testserver:8888", "null"])
async def test_another_sites_page_cannot_sign_a_browser_in(
    app: FastAPI, instructor: User, origin: str
) -> None:
    async with signed_in(app, None) as browser:
        answer = await browser.post(
            "/api/v1/auth/session",
            data={"username": instructor.email, "password": TEST_PASSWORD},
            headers={"Origin": origin},
        )
        assert answer.status_code == 403
        assert "own pages only" in answer.json()["detail"]
        assert SESSION_COOKIE not in browser.cookies
        own = await browser.post(
            "/api/v1/auth/session",
            data={"username": instructor.email, "password": TEST_PASSWORD},
            headers={"Origin": "http://testserver"},
        )
        assert own.status_code == 200
