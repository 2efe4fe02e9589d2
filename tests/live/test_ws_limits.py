"""Per-connection limits of /ws: the channel cap and the bounded send queue."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from cellmon.db.models import User
from cellmon.live.hub import CLOSE_SLOW_CONSUMER
from cellmon.live.messages import LiveMessage
from tests.conftest import LiveServer
from tests.live.helpers import add_class, connect_as, http_as, hub_of, publish, receive, request

MAX_CHANNELS = 3
SEND_QUEUE = 4


async def read_until_closed(ws: ClientConnection) -> tuple[str | bytes, int | None]:
    """The last message before the close, and the close code the server sent."""
    last: str | bytes = ""
    try:
        while True:
            last = await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as closed:
        return last, closed.rcvd.code if closed.rcvd else None


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CELLMON_WS_MAX_CHANNELS": MAX_CHANNELS, "CELLMON_WS_SEND_QUEUE": SEND_QUEUE}


async def test_a_connection_holds_at_most_the_documented_number_of_channels(
    live_server: LiveServer, live_admin: User
) -> None:
    classes = [await add_class(live_server.app, f"C{n}") for n in range(3)]
    channels = [f"class:{class_id}" for class_id in classes]
    async with connect_as(live_server, live_admin) as ws:
        error = await request(ws, {"action": "subscribe", "channels": ["broadcast", *channels]})
        assert error == {
            "type": "error",
            "message": "too many channels: at most 3 per connection",
        }
        reply = await request(ws, {"action": "subscribe", "channels": ["broadcast", channels[0]]})
        assert reply["type"] == "subscribed"

        error = await request(ws, {"action": "subscribe", "channels": channels[1:]})
        assert error["message"] == (
            "too many channels: at most 3 per connection (this request would make 4); "
            "nothing subscribed"
        )
        assert hub_of(live_server.app).subscribers_of(channels[1]) == 0

        # Channels already held do not count twice.
        reply = await request(ws, {"action": "subscribe", "channels": channels[:2]})
        assert reply == {"type": "subscribed", "channels": channels[:2]}
        assert (await request(ws, {"action": "ping"}))["type"] == "pong"


async def test_the_protocol_endpoint_reports_this_servers_limits(live_server: LiveServer) -> None:
    async with http_as(live_server, None) as http:
        limits = (await http.get("/api/v1/live/protocol")).json()["limits"]
    assert limits["max_channels_per_connection"] == MAX_CHANNELS
    assert limits["send_queue_per_connection"] == SEND_QUEUE


async def test_a_client_that_does_not_read_is_told_and_dropped_while_others_go_on(
    live_server: LiveServer, live_admin: User
) -> None:
    hub = hub_of(live_server.app)
    blob = "x" * 1024 * 1024
    # The slow client buffers one message, then stops reading from its socket. The server
    # does not compress, so the blobs fill the socket buffers (some tens of MB on loopback).
    async with (
        connect_as(live_server, live_admin, max_size=None) as fast,
        connect_as(live_server, live_admin, max_size=None, max_queue=1) as slow,
    ):
        for ws in (fast, slow):
            await request(ws, {"action": "subscribe", "channels": ["broadcast"]})
        # Until the socket buffers and then the slow client's queue are full.
        for n in range(400):
            await publish(
                live_server.app, LiveMessage("system_message", ("broadcast",), {"n": n, "b": blob})
            )
            assert (await receive(fast))["data"]["n"] == n
            if hub.dropped:
                break
        assert hub.dropped == 1
        assert hub.subscribers_of("broadcast") == 1

        last, code = await read_until_closed(slow)
        assert code == CLOSE_SLOW_CONSUMER
        error = orjson.loads(last)
        assert error["type"] == "error"
        assert "more than 4 messages waiting" in error["message"]

        # The fast client never noticed.
        await publish(live_server.app, LiveMessage("system_message", ("broadcast",), {"n": -1}))
        assert (await receive(fast))["data"] == {"n": -1}
