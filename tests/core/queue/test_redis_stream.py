"""RedisStreamQueue against the real Redis, each test under a prefix of its own."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from cellmon.core.errors import BackendUnavailable
from cellmon.core.queue.redis_stream import MAX_ENTRY_BYTES, RedisStreamQueue
from tests.services import REDIS_HOST, REDIS_PORT

URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
SHORT_LEASE = timedelta(milliseconds=200)


@pytest.fixture
async def queue(redis_prefix: str) -> AsyncIterator[RedisStreamQueue]:
    queue = RedisStreamQueue(URL, prefix=redis_prefix, lease=SHORT_LEASE)
    await queue.start()
    yield queue
    await queue.close()


async def test_enqueue_claim_ack(queue: RedisStreamQueue) -> None:
    for body in (b"one", b"two", b"three"):
        await queue.enqueue([body])
    assert await queue.depth() == 3
    first = await queue.claim("c1", 2, block_ms=0)
    assert [m.bodies for m in first] == [(b"one",), (b"two",)]
    assert all(m.deliveries == 1 for m in first)
    second = await queue.claim("c2", 10, block_ms=0)
    assert [m.bodies for m in second] == [(b"three",)]
    await queue.ack([m.id for m in first + second])
    # Acknowledged entries are deleted, so the stream does not grow for ever.
    assert await queue.depth() == 0
    assert await queue.claim("c1", 10, block_ms=0) == []


async def test_a_claim_told_to_stop_does_not_wait_for_work(queue: RedisStreamQueue) -> None:
    # Redis's BLOCK cannot be cut short: once told to stop, a claim does not start one.
    stop = asyncio.Event()
    stop.set()
    async with asyncio.timeout(10):
        assert await queue.claim("idle", 10, block_ms=60_000, stop=stop) == []


async def test_bodies_written_together_share_entries_up_to_a_size(
    queue: RedisStreamQueue,
) -> None:
    small = [b"s%d" % index for index in range(3)]
    large = b"x" * MAX_ENTRY_BYTES
    # Concurrent enqueues are one write (group commit), as one call with all bodies is.
    await asyncio.gather(*(queue.enqueue([body]) for body in small))
    await queue.enqueue([*small, large, b"after"])
    messages = await queue.claim("c1", 10, block_ms=0)
    assert [m.bodies for m in messages] == [tuple(small), tuple(small), (large,), (b"after",)]


async def test_an_entry_of_the_previous_version_is_read(queue: RedisStreamQueue) -> None:
    client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    await client.xadd(queue.stream, {b"b": b"old"})
    await client.aclose()
    assert [m.bodies for m in await queue.claim("c1", 10, block_ms=0)] == [(b"old",)]


async def test_claim_waits_for_the_first_entry(queue: RedisStreamQueue) -> None:
    claim = asyncio.create_task(queue.claim("c1", 10, block_ms=5000))
    await asyncio.sleep(0.05)
    await queue.enqueue([b"late"])
    messages = await claim
    assert [m.bodies for m in messages] == [(b"late",)]


async def test_entries_of_a_dead_consumer_are_claimed_again(queue: RedisStreamQueue) -> None:
    await queue.enqueue([b"a"])
    await queue.enqueue([b"b"])
    taken = await queue.claim("dead", 10, block_ms=0)
    assert len(taken) == 2
    # Within the lease nobody else gets them.
    assert await queue.claim("alive", 10, block_ms=0) == []
    await asyncio.sleep(SHORT_LEASE.total_seconds() * 1.5)
    again = await queue.claim("alive", 10, block_ms=0)
    assert sorted(m.bodies for m in again) == [(b"a",), (b"b",)]
    assert all(m.deliveries == 2 for m in again)
    await queue.ack([m.id for m in again])
    assert await queue.depth() == 0


async def test_two_consumers_never_get_the_same_entry(queue: RedisStreamQueue) -> None:
    bodies = [str(i).encode() for i in range(200)]
    for body in bodies:
        await queue.enqueue([body])
    got: list[bytes] = []

    async def consume(name: str) -> None:
        while batch := await queue.claim(name, 7, block_ms=0):
            got.extend(body for m in batch for body in m.bodies)
            await queue.ack([m.id for m in batch])

    await asyncio.gather(consume("a"), consume("b"), consume("c"))
    assert sorted(got) == sorted(bodies)


async def test_group_is_created_again_when_the_stream_vanished(
    queue: RedisStreamQueue,
) -> None:
    client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    await client.delete(queue.stream)
    await client.aclose()
    assert await queue.claim("c1", 10, block_ms=0) == []
    await queue.enqueue([b"after"])
    assert [m.bodies for m in await queue.claim("c1", 10, block_ms=0)] == [(b"after",)]


async def test_unreachable_redis_raises_backend_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    queue = RedisStreamQueue(f"redis://127.0.0.1:{port}/0", prefix="unused")
    await queue.start()  # logs, does not fail: the API must start and answer 503
    with pytest.raises(BackendUnavailable):
        await queue.enqueue([b"x"])
    with pytest.raises(BackendUnavailable):
        await queue.claim("c1", 1, block_ms=0)
    with pytest.raises(BackendUnavailable):
        await queue.ping()
    await queue.close()
