"""Group commit: concurrent enqueues share one write.

The real client sends one event per request, so a busy server has many requests enqueueing
a single message at the same moment. Instead of one round trip (or one SQLite transaction,
fighting for its write lock) each, the requests that arrive while a write is in flight are
written together by the next one. A caller returns only when its own messages are stored, and
gets the write's exception if it failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence


class GroupCommit:
    def __init__(self, write: Callable[[list[bytes]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[Sequence[bytes], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, bodies: Sequence[bytes]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((bodies, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        # A caller that gives up cancels its own future only: the write runs in its own task
        # and settles the futures still waiting (no asyncio.shield, which costs a future and
        # two callbacks per request).
        await future

    async def _write_waiting(self) -> None:
        group: list[tuple[Sequence[bytes], asyncio.Future[None]]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    await self._write([body for bodies, _future in group for body in bodies])
                except Exception as exc:
                    _settle(group, exc)
                else:
                    _settle(group, None)
        except asyncio.CancelledError:
            for _bodies, future in group + self._waiting:
                future.cancel()
            self._waiting = []
            raise


def _settle(
    group: list[tuple[Sequence[bytes], asyncio.Future[None]]], error: Exception | None
) -> None:
    for _bodies, future in group:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
