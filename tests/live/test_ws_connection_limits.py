"""Open /ws connections per account and per client address (the address uvicorn reports,
X-Forwarded-For from a trusted proxy included), counted in this process: one more is told
and closed with 4429, and a closed connection frees its place."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from cellmon.db.models import User
from cellmon.live.admission import CLOSE_NOT_SIGNED_IN, CLOSE_TOO_MANY_CONNECTIONS
from tests.accounts import bearer, create_account
from tests.conftest import LiveServer
from tests.live.helpers import (
    connect_as,
    eventually,
    http_as,
    hub_of,
    request,
    until_closed,
)

PER_USER = 2
PER_ADDRESS = 3
LOCAL = "127.0.0.1"


async def all_answer(*sockets: ClientConnection) -> None:
    """Each socket was admitted: the server checks an upgrade after accepting it."""
    for ws in sockets:
        assert (await request(ws, {"action": "ping"}))["type"] == "pong"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "CELLMON_WS_MAX_CONNECTIONS_PER_USER": PER_USER,
        "CELLMON_WS_MAX_CONNECTIONS_PER_ADDRESS": PER_ADDRESS,
    }


async def test_an_account_holds_at_most_the_documented_number_of_connections(
    live_server: LiveServer, live_admin: User
) -> None:
    counts = hub_of(live_server.app).connections
    async with (
        connect_as(live_server, live_admin) as first,
        connect_as(live_server, live_admin) as second,
    ):
        await all_answer(first, second)
        async with connect_as(live_server, live_admin) as third:
            frames, code, reason = await until_closed(third)
        assert (code, reason) == (CLOSE_TOO_MANY_CONNECTIONS, "too many connections per account")
        assert frames[0]["message"].startswith(
            "too many connections: at most 2 open /ws connections per account"
        )
        # The others go on.
        assert (await request(first, {"action": "ping"}))["type"] == "pong"
        assert counts.by_user.held(live_admin.id) == PER_USER
    await eventually(lambda: counts.by_user.held(live_admin.id) == 0)

    # Closed connections free their places.
    async with connect_as(live_server, live_admin) as again:
        assert (await request(again, {"action": "ping"}))["type"] == "pong"


async def test_an_address_holds_at_most_the_documented_number_of_connections(
    live_server: LiveServer, live_admin: User
) -> None:
    counts = hub_of(live_server.app).connections
    teacher = await create_account(live_server.app, "ta@example.org", "instructor")
    async with (
        connect_as(live_server, live_admin) as first,
        connect_as(live_server, live_admin) as second,
        connect_as(live_server, teacher) as third,
    ):
        await all_answer(first, second, third)
        assert counts.by_address.held(LOCAL) == PER_ADDRESS
        for user in (teacher, None):
            async with connect_as(live_server, user) as refused:
                frames, code, reason = await until_closed(refused)
            assert (code, reason) == (
                CLOSE_TOO_MANY_CONNECTIONS,
                "too many connections per client address",
            )
            assert "per client address" in frames[0]["message"]

        # Another client behind the trusted proxy (uvicorn's proxy headers) has its own count.
        headers = {**bearer(live_server.app, teacher), "X-Forwarded-For": "203.0.113.7"}
        async with connect(live_server.ws_url, additional_headers=headers) as elsewhere:
            assert (await request(elsewhere, {"action": "ping"}))["type"] == "pong"
            assert counts.by_address.held("203.0.113.7") == 1
        assert counts.by_address.held(LOCAL) == PER_ADDRESS
    await eventually(lambda: counts.by_address.held(LOCAL) == 0)


async def test_a_refused_sign_in_leaves_no_place_taken(live_server: LiveServer) -> None:
    counts = hub_of(live_server.app).connections
    for _ in range(PER_ADDRESS + 1):
        async with connect_as(live_server, None) as ws:
            _, code, _ = await until_closed(ws)
        assert code == CLOSE_NOT_SIGNED_IN
    await eventually(lambda: counts.by_address.held(LOCAL) == 0)


async def test_the_protocol_endpoint_reports_the_connection_limits(
    live_server: LiveServer,
) -> None:
    async with http_as(live_server, None) as http:
        protocol = (await http.get("/api/v1/live/protocol")).json()
    assert protocol["limits"]["max_connections_per_user"] == PER_USER
    assert protocol["limits"]["max_connections_per_address"] == PER_ADDRESS
    assert protocol["limits"]["connections_counted_per"] == "server process"
    assert {"4401", "4429"} <= set(protocol["close_codes"])
