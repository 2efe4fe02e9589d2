"""TableQueue, the embedded queue, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable
from cellmon.core.queue import table
from cellmon.core.queue.table import TableQueue
from cellmon.core.settings import Settings

SHORT_LEASE = timedelta(milliseconds=200)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


async def test_enqueue_claim_ack(database: Database) -> None:
    queue = TableQueue(database, lease=SHORT_LEASE)
    await queue.enqueue([b"one", b"two"])
    assert await queue.depth() == 2
    messages = await queue.claim("c1", 10, block_ms=0)
    # A row per body.
    assert [m.bodies for m in messages] == [(b"one",), (b"two",)]
    assert await queue.claim("c2", 10, block_ms=0) == []
    await queue.ack([m.id for m in messages])
    assert await queue.depth() == 0


async def test_entries_of_a_dead_consumer_come_back_after_the_lease(database: Database) -> None:
    queue = TableQueue(database, lease=SHORT_LEASE)
    await queue.enqueue([b"a"])
    [taken] = await queue.claim("dead", 10, block_ms=0)
    await asyncio.sleep(SHORT_LEASE.total_seconds() * 1.5)
    [again] = await queue.claim("alive", 10, block_ms=0)
    assert again.id == taken.id
    assert again.deliveries == 2


async def test_consumers_share_entries_without_overlap(database: Database) -> None:
    queue = TableQueue(database)
    bodies = [str(i).encode() for i in range(100)]
    await queue.enqueue(bodies)
    got: list[bytes] = []

    async def consume(name: str) -> None:
        while batch := await queue.claim(name, 9, block_ms=0):
            got.extend(body for m in batch for body in m.bodies)
            await queue.ack([m.id for m in batch])

    await asyncio.gather(consume("a"), consume("b"))
    assert sorted(got) == sorted(bodies)


async def test_a_claim_passes_over_leased_entries_in_enqueue_order(database: Database) -> None:
    # Claims walk the entries in id order (there is no index on visible_at to find them).
    queue = TableQueue(database)
    await queue.enqueue([b"1", b"2", b"3", b"4", b"5"])
    first = await queue.claim("c1", 2, block_ms=0)
    second = await queue.claim("c2", 2, block_ms=0)
    await queue.ack([m.id for m in first])
    third = await queue.claim("c3", 10, block_ms=0)

    assert [m.bodies for m in first] == [(b"1",), (b"2",)]
    assert [m.bodies for m in second] == [(b"3",), (b"4",)]
    assert [m.bodies for m in third] == [(b"5",)]
    assert await queue.depth() == 3


async def test_a_claim_waiting_for_work_returns_once_told_to_stop(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server's shutdown does not wait out its idle worker's claim. Without `stop`, only an
    # enqueue or the poll (made longer than the test's bound) would end the wait.
    monkeypatch.setattr(table, "POLL_INTERVAL_SECONDS", 60.0)
    queue = TableQueue(database)
    stop = asyncio.Event()
    waiting = asyncio.create_task(queue.claim("idle", 10, block_ms=60_000, stop=stop))
    stop.set()
    async with asyncio.timeout(10):
        assert await waiting == []


async def test_an_enqueue_sqlite_cannot_store_is_unavailable(tmp_path: Path) -> None:
    # SQLite's own error (the enqueue goes to aiosqlite directly): 503, which the client retries.
    database = Database(Settings(CELLMON_DATA_DIR=tmp_path))
    queue = TableQueue(database)
    try:
        with pytest.raises(BackendUnavailable, match="no such table: queue_entries"):
            await queue.enqueue([b"never stored"])
    finally:
        await database.dispose()
