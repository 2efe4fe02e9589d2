"""The server's WebSocket ping frames (uvicorn's ws_ping settings, from CELLMON_WS_PING_*)
and its limit on client message size."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed

from cellmon.db.models import User
from cellmon.live.service import MAX_CLIENT_MESSAGE_BYTES
from tests.accounts import bearer
from tests.conftest import LiveServer
from tests.live.helpers import connect_as

PING_INTERVAL = 0.2
PING_TIMEOUT = 0.2
OPCODE_PING, OPCODE_CLOSE = 0x9, 0x8


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CELLMON_WS_PING_INTERVAL": PING_INTERVAL, "CELLMON_WS_PING_TIMEOUT": PING_TIMEOUT}


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One unmasked server frame with a short payload: (opcode, payload)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    return head[0] & 0x0F, await reader.readexactly(length)


async def test_a_client_that_never_answers_pings_is_disconnected(
    live_server: LiveServer, live_admin: User
) -> None:
    # A bare socket that speaks the handshake and then never answers anything.
    address = urlsplit(live_server.base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    key = base64.b64encode(os.urandom(16)).decode()
    [(_, authorization)] = bearer(live_server.app, live_admin).items()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Authorization: {authorization}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert status.startswith(b"HTTP/1.1 101")

    opcodes: list[int] = []
    close_payload = b""
    async with asyncio.timeout(10):
        while OPCODE_CLOSE not in opcodes:
            opcode, payload = await read_frame(reader)
            opcodes.append(opcode)
            close_payload = payload
    writer.close()
    assert opcodes[0] == OPCODE_PING
    assert struct.unpack("!H", close_payload[:2])[0] == 1011


async def test_an_oversized_client_message_closes_with_1009(
    live_server: LiveServer, live_admin: User
) -> None:
    async with connect_as(live_server, live_admin, max_size=None) as ws:
        await ws.send("x" * (MAX_CLIENT_MESSAGE_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
