"""A subscriber process of the WebSocket benchmark: holds many idle /ws connections and notes
when each benchmark token (an id made by bench.ws) reaches each of them.

The WebSocket client is a bare asyncio protocol (RFC 6455 framing): a few microseconds per
received frame, so that thousands of subscribers sharing the machine's two cores with the
server cost it as little as possible. Like a browser it offers permessage-deflate (RFC 7692),
whose per-connection state is part of what a server holds for each real dashboard. It answers
pings, so the server's keepalive keeps the connections.

Driven over stdin/stdout, one JSON object per line:
  {"cmd": "connect", "count": N}   open N more connections, subscribe each, wait for the ack
  {"cmd": "report", "tokens": [...]}  token -> [deliveries, first, last] (CLOCK_MONOTONIC s)
  {"cmd": "times"}                 token -> first delivery time, then forget them all
  {"cmd": "close"}                 close every connection and exit

    python -m bench.ws_clients URL CHANNELS_JSON LOCAL_HOST

The environment's BENCH_WS_TOKEN, when set, goes in each upgrade request's Authorization
header (a bearer token, as /ws asks of a signed-in user).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sys
import time
import urllib.parse
import zlib
from typing import Any, cast

import orjson

# Every id the benchmark makes starts with this, so a message is matched whatever its shape.
TOKEN_PREFIX = b"be0c4e00-"
TOKEN = re.compile(rb"be0c4e00-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
CONNECTS_AT_ONCE = 64
OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 1, 2, 8, 9, 10

Deliveries = dict[bytes, list[float]]  # token -> [count, first, last]


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame, as a client must send."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = bytes([0x80 | opcode, 0x80 | length])
    elif length < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return head + mask + masked


class Subscriber(asyncio.Protocol):
    def __init__(self, request: bytes, subscribe: bytes, deliveries: Deliveries) -> None:
        self.request = request
        self.subscribe = subscribe
        self.deliveries = deliveries
        self.buffer = bytearray()
        self.upgraded = False
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.inflate: Any = None  # a zlib decompressor once permessage-deflate is agreed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError("closed before subscribing"))

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.subscribed.set_exception(ConnectionError(bytes(buffer[:80]).decode()))
                assert self.transport is not None
                self.transport.close()
                return
            if b"permessage-deflate" in bytes(buffer[:end]).lower():
                self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            del buffer[: end + 4]
            self.upgraded = True
            assert self.transport is not None
            self.transport.write(client_frame(OPCODE_TEXT, self.subscribe))
        while len(buffer) >= 2:
            compressed = buffer[0] & 0x40
            opcode = buffer[0] & 0x0F
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length = int.from_bytes(buffer[2:4], "big")
                start = 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length = int.from_bytes(buffer[2:10], "big")
                start = 10
            end = start + length
            if len(buffer) < end:
                return
            payload = bytes(buffer[start:end])
            del buffer[:end]
            if compressed and self.inflate is not None:
                payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
            self.frame(opcode, payload, now)

    def frame(self, opcode: int, payload: bytes, now: float) -> None:
        assert self.transport is not None
        if opcode == OPCODE_PING:
            self.transport.write(client_frame(OPCODE_PONG, payload))
        elif opcode == OPCODE_CLOSE:
            self.transport.write(client_frame(OPCODE_CLOSE, payload[:2]))
            self.transport.close()
        elif opcode != OPCODE_PONG:
            if not self.subscribed.done():
                if b'"subscribed"' in payload:
                    self.subscribed.set_result(None)
                else:
                    self.subscribed.set_exception(ConnectionError(payload[:200].decode()))
            if TOKEN_PREFIX in payload:
                deliveries = self.deliveries
                for token in set(TOKEN.findall(payload)):
                    seen = deliveries.get(token)
                    if seen is None:
                        deliveries[token] = [1, now, now]
                    else:
                        seen[0] += 1
                        seen[2] = now


class Subscribers:
    def __init__(self, url: str, channels: list[str], local_host: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path or "/"
        self.subscribe = orjson.dumps({"action": "subscribe", "channels": channels})
        self.local_host = local_host
        token = os.environ.get("BENCH_WS_TOKEN")
        self.authorization = b"Authorization: Bearer %s\r\n" % token.encode() if token else b""
        self.connections: list[Subscriber] = []
        self.deliveries: Deliveries = {}
        self.failed = 0

    def _request(self) -> bytes:
        key = base64.b64encode(os.urandom(16))
        return (
            b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n%s\r\n"
            % (self.path.encode(), self.host.encode(), self.port, key, self.authorization)
        )

    async def open_one(self, gate: asyncio.Semaphore) -> None:
        loop = asyncio.get_running_loop()
        async with gate:
            protocol = Subscriber(self._request(), self.subscribe, self.deliveries)
            try:
                await loop.create_connection(
                    lambda: protocol, self.host, self.port, local_addr=(self.local_host, 0)
                )
                await asyncio.wait_for(asyncio.shield(protocol.subscribed), 60)
            except (OSError, TimeoutError, ConnectionError):
                self.failed += 1
                if protocol.transport is not None:
                    protocol.transport.close()
                return
        self.connections.append(protocol)

    async def command(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["cmd"] == "connect":
            gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
            await asyncio.gather(*(self.open_one(gate) for _ in range(request["count"])))
            return {"connected": len(self.connections), "failed": self.failed}
        if request["cmd"] == "report":
            wanted = [token.encode() for token in request["tokens"]]
            return {
                "closed": sum(connection.closed for connection in self.connections),
                "tokens": {
                    token.decode(): self.deliveries[token]
                    for token in wanted
                    if token in self.deliveries
                },
            }
        if request["cmd"] == "times":
            times = {token.decode(): seen[1] for token, seen in self.deliveries.items()}
            self.deliveries.clear()
            return {"tokens": times}
        if request["cmd"] == "close":
            for connection in self.connections:
                if connection.transport is not None and not connection.closed:
                    connection.transport.write(client_frame(OPCODE_CLOSE, b"\x03\xe8"))
                    connection.transport.close()
            return {"closed": True}
        return {"error": f"unknown command {request['cmd']}"}


async def main() -> None:
    url, channels, local_host = sys.argv[1], orjson.loads(sys.argv[2]), sys.argv[3]
    subscribers = Subscribers(url, channels, local_host)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        request = orjson.loads(line)
        answer = await subscribers.command(request)
        sys.stdout.write(orjson.dumps(answer).decode() + "\n")
        sys.stdout.flush()
        if request["cmd"] == "close":
            await asyncio.sleep(0.5)  # let the close frames go out
            break


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
