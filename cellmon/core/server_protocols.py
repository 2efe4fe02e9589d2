"""uvicorn's HTTP and WebSocket protocols, with the two bounds they lack on a request's head.

- A request whose line and headers have not all arrived within REQUEST_HEAD_SECONDS is closed:
  uvicorn (httptools) waits for them forever, so a client that stops half-way through, or
  sends a byte a minute, holds its socket and memory for as long as it likes.
- An upgrade to /ws that `websockets` refuses (a request line or a header over its 8 KiB, too
  many headers) gets the 414 or 431 `websockets` wrote: uvicorn's sans-I/O protocol leaves that
  answer unsent and the socket open, and 50 such sockets stayed open for 240 s.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

# Far beyond a real client on a slow link; a request's head is a few hundred bytes.
REQUEST_HEAD_SECONDS = 10.0


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Closes a connection whose request head does not arrive in time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_head_deadline()

    def on_headers_complete(self) -> None:
        self._cancel_head_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _start_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(REQUEST_HEAD_SECONDS, self._head_too_slow)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class AnsweringWebSocketsProtocol(WebSocketsSansIOProtocol):
    """Sends the answer `websockets` wrote when it refuses an upgrade's request, and closes."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()
