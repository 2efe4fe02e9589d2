"""The Redis Pub/Sub bus against the shared Redis (under a unique prefix), and against a
Redis of the test's own that it stops and starts again."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from redis.asyncio import Redis

from cellmon.core.bus.redis_pubsub import RedisPubSubBus, bus_channel
from cellmon.core.errors import BackendUnavailable
from tests.core.bus.own_redis import OwnRedis, free_port
from tests.services import service_missing, unique_name


class Listening:
    """A bus listener running in a task, collecting what it receives."""

    def __init__(self, bus: RedisPubSubBus) -> None:
        self.bus = bus
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for message in self.bus.listen():
            self.received.put_nowait(message)

    async def next(self) -> bytes:
        return await asyncio.wait_for(self.received.get(), 10)

    async def until_delivered(self, marker: bytes, publisher: RedisPubSubBus) -> None:
        """Publish `marker` until it comes back: the subscription is then in place."""
        async with asyncio.timeout(30):
            while True:
                with contextlib.suppress(BackendUnavailable):
                    await publisher.publish(marker)
                with contextlib.suppress(TimeoutError):
                    while await asyncio.wait_for(self.received.get(), 0.2) != marker:
                        pass
                    return

    async def stop(self) -> None:
        await self.bus.close()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def redis_url() -> str:
    from tests.services import REDIS_HOST, REDIS_PORT

    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    client = Redis.from_url(url, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as exc:
        service_missing("Redis", exc)
    finally:
        await client.aclose()
    return url


async def test_packets_arrive_whole_and_in_order(redis_url: str) -> None:
    channel = bus_channel(unique_name("cellmon_test"))
    bus = RedisPubSubBus(redis_url, channel)
    listening = Listening(bus)
    await listening.until_delivered(b"ready", bus)

    large = bytes(range(256)) * 2048
    for packet in (b"one", large, b"three"):
        await bus.publish(packet)

    assert [await listening.next() for _ in range(3)] == [b"one", large, b"three"]
    await listening.stop()


async def test_every_process_on_the_prefix_receives_and_no_other(redis_url: str) -> None:
    prefix = unique_name("cellmon_test")
    assert bus_channel(prefix) == f"{prefix}:student_progress_notifications"
    here = RedisPubSubBus(redis_url, bus_channel(prefix))
    there = RedisPubSubBus(redis_url, bus_channel(prefix))
    elsewhere = RedisPubSubBus(redis_url, bus_channel(unique_name("cellmon_test")))
    listeners = [Listening(bus) for bus in (here, there, elsewhere)]
    for listening in listeners:
        await listening.until_delivered(b"ready", listening.bus)
    # Both listeners of the prefix have now seen each other's "ready"s; skip past them.
    await here.publish(b"sync")
    for listening in listeners[:2]:
        while await listening.next() != b"sync":
            pass

    await here.publish(b"hello")
    # A marker on the other prefix, published after: it arriving first proves "hello" never will.
    await elsewhere.publish(b"marker")

    assert await listeners[0].next() == b"hello"
    assert await listeners[1].next() == b"hello"
    assert await listeners[2].next() == b"marker"
    for listening in listeners:
        await listening.stop()


async def test_an_unreachable_redis_is_reported_as_unavailable() -> None:
    bus = RedisPubSubBus(f"redis://127.0.0.1:{free_port()}/0", "nowhere")
    with pytest.raises(BackendUnavailable):
        await bus.publish(b"lost")
    with pytest.raises(BackendUnavailable):
        await bus.ping()
    await bus.close()


async def test_the_listener_survives_a_redis_restart(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cellmon.core.bus.redis_pubsub")
    own_redis.start()
    await own_redis.wait_ready()
    bus = RedisPubSubBus(own_redis.url, bus_channel("restart"))
    listening = Listening(bus)
    await listening.until_delivered(b"before", bus)
    await bus.ping()

    own_redis.stop()
    with pytest.raises(BackendUnavailable):
        await bus.publish(b"while down")
    own_redis.start()
    await own_redis.wait_ready()

    await listening.until_delivered(b"after", bus)
    messages = [record.getMessage() for record in caplog.records]
    assert any("lost Redis" in text for text in messages)
    assert any("reconnected" in text for text in messages)
    await listening.stop()
