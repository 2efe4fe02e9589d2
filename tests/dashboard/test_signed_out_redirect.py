"""/dashboard answers a browser without a good session with the sign-in page, which brings it
back to the very URL it asked for; /login serves the form to anyone."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from cellmon.auth.deps import CSRF_COOKIE, SESSION_COOKIE
from cellmon.auth.tokens import TokenCodec
from tests.accounts import TEST_PASSWORD, create_account


def _sign_in_target(response: httpx.Response) -> str:
    """The `next` of a 303 to the sign-in page."""
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("", "", "/login")
    return parse_qs(location.query, strict_parsing=True)["next"][0]


@pytest.mark.parametrize(
    ("url", "back_to"),
    [
        ("/dashboard", "/dashboard"),
        ("/dashboard?class_id=3", "/dashboard?class_id=3"),
        ("/dashboard?class_id=3&x=a%26b", "/dashboard?class_id=3&x=a%26b"),
    ],
)
async def test_signed_out_browser_is_sent_to_sign_in_and_back(
    anonymous_client: httpx.AsyncClient, url: str, back_to: str
) -> None:
    response = await anonymous_client.get(url)

    assert _sign_in_target(response) == back_to
    assert "<script" not in response.text


@pytest.mark.parametrize(
    "session_cookie",
    ["not-a-token", "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo"],
)
async def test_a_forged_session_cookie_is_signed_out(
    anonymous_client: httpx.AsyncClient, session_cookie: str
) -> None:
    anonymous_client.cookies.set(SESSION_COOKIE, session_cookie)

    response = await anonymous_client.get("/dashboard?class_id=1")

    assert _sign_in_target(response) == "/dashboard?class_id=1"


async def test_an_ended_session_is_signed_out(
    app: FastAPI, anonymous_client: httpx.AsyncClient
) -> None:
    await create_account(app, "teacher@example.org", "instructor")
    signed_in = await anonymous_client.post(
        "/api/v1/auth/session",
        data={"username": "teacher@example.org", "password": TEST_PASSWORD},
    )
    assert signed_in.status_code == 200, signed_in.text
    assert (await anonymous_client.get("/dashboard")).status_code == 200
    csrf = anonymous_client.cookies[CSRF_COOKIE]
    session_cookie = anonymous_client.cookies[SESSION_COOKIE]

    signed_out = await anonymous_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})

    assert signed_out.status_code == 204
    anonymous_client.cookies.set(SESSION_COOKIE, session_cookie)
    assert _sign_in_target(await anonymous_client.get("/dashboard")) == "/dashboard"


async def test_a_session_cookie_opens_the_page(
    app: FastAPI, anonymous_client: httpx.AsyncClient
) -> None:
    teacher = await create_account(app, "teacher@example.org", "instructor")
    codec: TokenCodec = app.state.tokens
    anonymous_client.cookies.set(SESSION_COOKIE, codec.issue(teacher.id, with_csrf=True).token)

    response = await anonymous_client.get("/dashboard?class_id=3")

    assert response.status_code == 200
    assert '<script type="module" src="/dashboard/static/app.js">' in response.text


async def test_sign_in_page_is_a_labelled_form_under_the_strict_policy(
    anonymous_client: httpx.AsyncClient,
) -> None:
    response = await anonymous_client.get("/login?next=/dashboard")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert '<script type="module" src="/dashboard/static/login.js">' in page
    assert '<label for="username">' in page
    assert 'id="username" name="username"' in page
    assert '<label for="password">' in page
    assert 'id="password" name="password"' in page
    assert 'type="password"' in page
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    # No third-party script, style or font: the page works on a network without internet.
    assert "http://" not in page
    assert "https://" not in page
