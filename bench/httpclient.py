"""A minimal HTTP/1.1 keep-alive client for timed POSTs to 127.0.0.1 (a few µs per request,
so that the load generator's own cost stays out of the latency it measures)."""

from __future__ import annotations

import asyncio


class HttpPool:
    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.size = size
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self._all: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        for _ in range(self.size):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            self._all.append(writer)
            self._idle.put_nowait((reader, writer))

    async def close(self) -> None:
        for writer in self._all:
            writer.close()

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = (
            b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"%sContent-Length: %d\r\n\r\n%s" % (path.encode(), extra.encode(), len(body), body)
        )
        pair = await self._idle.get()
        try:
            try:
                return await self._exchange(pair, request)
            except (asyncio.IncompleteReadError, ConnectionError):
                # The server closed a keep-alive connection that sat idle: open it anew.
                pair[1].close()
                pair = await asyncio.open_connection("127.0.0.1", self.port)
                self._all.append(pair[1])
                return await self._exchange(pair, request)
        finally:
            self._idle.put_nowait(pair)

    @staticmethod
    async def _exchange(
        pair: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
    ) -> tuple[int, bytes]:
        reader, writer = pair
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)
