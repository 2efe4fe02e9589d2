from __future__ import annotations

import asyncio

from cellmon.core.bus.in_process import InProcessBus


async def test_a_listener_gets_what_is_published_after_listen_returns() -> None:
    bus = InProcessBus()
    first, second = bus.listen(), bus.listen()
    # Published before anyone iterates: listen() itself registered the listeners.
    await bus.publish(b"one")
    await bus.publish(b"two")
    assert [await anext(first), await anext(first)] == [b"one", b"two"]
    assert [await anext(second), await anext(second)] == [b"one", b"two"]
    await bus.close()


async def test_close_ends_every_listener() -> None:
    bus = InProcessBus()
    listener = bus.listen()

    async def drain() -> list[bytes]:
        return [message async for message in listener]

    draining = asyncio.create_task(drain())
    await bus.publish(b"last")
    await bus.close()
    assert await asyncio.wait_for(draining, 10) == [b"last"]
    assert [message async for message in bus.listen()] == []
