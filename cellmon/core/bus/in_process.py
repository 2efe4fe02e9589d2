"""The embedded bus: delivers within this process only (one server, worker inside)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from cellmon.core.bus.base import MessageBus

# Packets a listener may fall behind by (a batch of events is one packet or a few); one that
# falls further behind loses the oldest packets.
LISTENER_BUFFER = 1_000

_CLOSED = object()


class InProcessBus(MessageBus):
    def __init__(self) -> None:
        self._listeners: set[asyncio.Queue[bytes | object]] = set()
        self._closed = False

    async def publish(self, packet: bytes) -> None:
        for listener in self._listeners:
            if listener.full():
                listener.get_nowait()
            listener.put_nowait(packet)

    def listen(self) -> AsyncIterator[bytes]:
        # Registered at the call, not at the first iteration: whatever is published after
        # listen() returns is delivered, so a caller knows when it is listening.
        listener: asyncio.Queue[bytes | object] = asyncio.Queue(LISTENER_BUFFER)
        if self._closed:
            listener.put_nowait(_CLOSED)
        self._listeners.add(listener)
        return self._drain(listener)

    async def _drain(self, listener: asyncio.Queue[bytes | object]) -> AsyncIterator[bytes]:
        try:
            while True:
                packet = await listener.get()
                if packet is _CLOSED:
                    return
                assert isinstance(packet, bytes)
                yield packet
        finally:
            self._listeners.discard(listener)

    async def close(self) -> None:
        self._closed = True
        for listener in self._listeners:
            if listener.full():
                listener.get_nowait()
            listener.put_nowait(_CLOSED)

    async def ping(self) -> None:
        return None
