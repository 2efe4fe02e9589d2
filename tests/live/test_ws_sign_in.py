"""/ws needs a signed-in account: a bearer token in the upgrade request's Authorization
header or the dashboard's session cookie, never a token in the URL. Refusals are close codes
a browser can see (4401), after an error frame saying why."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect

from cellmon.auth.deps import SESSION_COOKIE
from cellmon.auth.tokens import TokenCodec, secret_key
from cellmon.core.settings import Settings
from cellmon.db.models import User
from cellmon.live.admission import CLOSE_FOREIGN_ORIGIN, CLOSE_NOT_SIGNED_IN, SIGN_IN_HINT
from tests.accounts import TEST_PASSWORD, create_account, token_for
from tests.conftest import LiveServer
from tests.live.helpers import (
    connect_as,
    eventually,
    http_as,
    hub_of,
    receive,
    request,
    until_closed,
)


async def test_an_anonymous_upgrade_is_told_and_closed_with_4401(live_server: LiveServer) -> None:
    async with connect_as(live_server, None, "?channels=broadcast") as ws:
        frames, code, reason = await until_closed(ws)
    assert frames == [{"type": "error", "message": SIGN_IN_HINT}]
    assert (code, reason) == (CLOSE_NOT_SIGNED_IN, "not signed in")
    hub = hub_of(live_server.app)
    assert hub.subscriber_count == 0
    assert hub.subscribers_of("broadcast") == 0


async def test_a_bearer_token_in_the_authorization_header_signs_in(
    live_server: LiveServer, live_admin: User
) -> None:
    async with connect_as(live_server, live_admin, "?channels=broadcast") as ws:
        assert await receive(ws) == {"type": "subscribed", "channels": ["broadcast"]}
        assert (await request(ws, {"action": "ping"}))["type"] == "pong"


async def _session_cookie(live_server: LiveServer) -> dict[str, str]:
    user = await create_account(live_server.app, "ta@example.org", "instructor")
    async with http_as(live_server, None) as http:
        response = await http.post(
            "/api/v1/auth/session", data={"username": user.email, "password": TEST_PASSWORD}
        )
        assert response.status_code == 200, response.text
        cookie = http.cookies[SESSION_COOKIE]
    return {"Cookie": f"{SESSION_COOKIE}={cookie}"}


async def test_the_dashboards_session_cookie_signs_in(live_server: LiveServer) -> None:
    headers = await _session_cookie(live_server)
    # From the dashboard's own page, and from a client that is no browser (no Origin).
    own_page = live_server.base_url
    for origin in (own_page, None):
        async with connect(live_server.ws_url, additional_headers=headers, origin=origin) as ws:
            reply = await request(ws, {"action": "subscribe", "channels": ["broadcast"]})
            assert reply == {"type": "subscribed", "channels": ["broadcast"]}


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:8888", "http://evil.example", "null", "http://127.0.0.1"]
)
async def test_the_session_cookie_does_not_sign_in_another_origins_page(
    live_server: LiveServer, origin: str
) -> None:
    headers = await _session_cookie(live_server)
    async with connect(live_server.ws_url, additional_headers=headers, origin=origin) as ws:
        frames, code, reason = await until_closed(ws)
    assert (code, reason) == (CLOSE_FOREIGN_ORIGIN, "foreign origin")
    assert "own pages only" in frames[0]["message"]


@pytest.mark.parametrize("parameter", ["token", "access_token"])
async def test_a_token_in_the_url_does_not_sign_in(
    live_server: LiveServer, live_admin: User, parameter: str
) -> None:
    token = token_for(live_server.app, live_admin)
    async with connect(f"{live_server.ws_url}?{parameter}={token}") as ws:
        frames, code, _ = await until_closed(ws)
    assert code == CLOSE_NOT_SIGNED_IN
    assert frames[0]["message"] == SIGN_IN_HINT


async def test_a_bad_expired_or_revoked_token_is_refused(
    live_server: LiveServer, live_admin: User, settings: Settings
) -> None:
    expired = TokenCodec(secret_key(settings), -10).issue(live_admin.id).token
    revoked = token_for(live_server.app, live_admin)
    async with http_as(live_server, None) as http:
        response = await http.post(
            "/api/v1/auth/logout", headers={"Authorization": f"Bearer {revoked}"}
        )
        assert response.status_code == 204, response.text
    for authorization, says in [
        ("Bearer not-a-jwt", "invalid or has expired"),
        (f"Basic {revoked}", "must be 'Bearer <access token>'"),
        (f"Bearer {expired}", "invalid or has expired"),
        (f"Bearer {revoked}", "session has ended"),
    ]:
        headers = {"Authorization": authorization}
        async with connect(live_server.ws_url, additional_headers=headers) as ws:
            frames, code, _ = await until_closed(ws)
        assert code == CLOSE_NOT_SIGNED_IN, authorization
        assert says in frames[0]["message"], authorization


async def test_an_open_socket_is_closed_when_its_token_expires(
    live_server: LiveServer, live_admin: User, settings: Settings
) -> None:
    short_lived = TokenCodec(secret_key(settings), 2).issue(live_admin.id).token
    headers = {"Authorization": f"Bearer {short_lived}"}
    hub = hub_of(live_server.app)
    url = f"{live_server.ws_url}?channels=broadcast"
    async with connect(url, additional_headers=headers) as ws:
        assert (await receive(ws))["type"] == "subscribed"
        frames, code, reason = await until_closed(ws)
    assert (code, reason) == (CLOSE_NOT_SIGNED_IN, "session expired")
    assert frames[-1]["message"] == "the access token has expired; sign in again and reconnect"
    await eventually(lambda: hub.subscriber_count == 0)
    assert hub.subscribers_of("broadcast") == 0
