"""A subscriber process of the WebSocket benchmark: holds many idle /ws connections and notes
when each benchmark token (an id made by bench.ws) reaches each of them.

Driven over stdin/stdout, one JSON object per line:
  {"cmd": "connect", "count": N}   open N more connections, subscribe each, wait for the ack
  {"cmd": "report"}                token -> [deliveries, first, last] (CLOCK_MONOTONIC seconds)
  {"cmd": "times"}                 token -> first delivery time, then forget them all
  {"cmd": "close"}                 close every connection and exit

    python -m bench.ws_clients URL CHANNELS_JSON LOCAL_HOST
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

# Every id the benchmark makes starts with this, so a message is matched whatever its shape.
TOKEN = re.compile(rb"be0c4e00-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
CONNECTS_AT_ONCE = 64


class Subscribers:
    def __init__(self, url: str, channels: list[str], local_host: str) -> None:
        self.url = url
        self.subscribe = orjson.dumps({"action": "subscribe", "channels": channels}).decode()
        self.local_host = local_host
        self.connections: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.deliveries: dict[bytes, list[float]] = {}  # token -> [count, first, last]
        self.closed = 0
        self.failed = 0

    async def open_one(self, gate: asyncio.Semaphore) -> None:
        async with gate:
            try:
                connection = await connect(
                    self.url,
                    local_addr=(self.local_host, 0),
                    ping_interval=None,
                    max_size=2**22,
                    open_timeout=60,
                )
                await connection.send(self.subscribe)
                await asyncio.wait_for(connection.recv(), 60)  # {"type": "subscribed", ...}
            except (OSError, TimeoutError, ConnectionClosed):
                self.failed += 1
                return
        self.connections.append(connection)
        self.readers.append(asyncio.create_task(self.read(connection)))

    async def read(self, connection: ClientConnection) -> None:
        deliveries = self.deliveries
        try:
            async for message in connection:
                now = time.monotonic()
                raw = message if isinstance(message, bytes) else message.encode()
                for token in set(TOKEN.findall(raw)):
                    seen = deliveries.get(token)
                    if seen is None:
                        deliveries[token] = [1, now, now]
                    else:
                        seen[0] += 1
                        seen[2] = now
        except ConnectionClosed:
            pass
        self.closed += 1

    async def command(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["cmd"] == "connect":
            gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
            await asyncio.gather(*(self.open_one(gate) for _ in range(request["count"])))
            return {"connected": len(self.connections), "failed": self.failed}
        if request["cmd"] == "report":
            wanted = request.get("tokens")
            return {
                "closed": self.closed,
                "tokens": {
                    token.decode(): seen
                    for token, seen in self.deliveries.items()
                    if wanted is None or token.decode() in wanted
                },
            }
        if request["cmd"] == "times":
            times = {token.decode(): seen[1] for token, seen in self.deliveries.items()}
            self.deliveries.clear()
            return {"tokens": times}
        if request["cmd"] == "close":
            await asyncio.gather(
                *(connection.close() for connection in self.connections), return_exceptions=True
            )
            for reader in self.readers:
                reader.cancel()
            return {"closed": True}
        return {"error": f"unknown command {request['cmd']}"}


async def main() -> None:
    url, channels, local_host = sys.argv[1], orjson.loads(sys.argv[2]), sys.argv[3]
    subscribers = Subscribers(url, channels, local_host)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        request = orjson.loads(line)
        answer = await subscribers.command(request)
        sys.stdout.write(orjson.dumps(answer).decode() + "\n")
        sys.stdout.flush()
        if request["cmd"] == "close":
            break


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
