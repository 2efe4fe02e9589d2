"""GroupCommit: concurrent enqueues share one write, and each caller learns its outcome."""

from __future__ import annotations

import asyncio

import pytest

from cellmon.core.errors import BackendUnavailable
from cellmon.core.queue.group_commit import GroupCommit


async def test_concurrent_submits_share_writes_and_return_once_stored() -> None:
    writes: list[list[bytes]] = []

    async def write(bodies: list[bytes]) -> None:
        await asyncio.sleep(0.01)
        writes.append(bodies)

    group = GroupCommit(write)

    async def submit(body: bytes) -> int:
        await group.submit([body])
        # Stored by the time submit returns.
        assert any(body in written for written in writes)
        return 1

    results = await asyncio.gather(*(submit(str(i).encode()) for i in range(50)))
    assert sum(results) == 50
    assert sorted(body for written in writes for body in written) == sorted(
        str(i).encode() for i in range(50)
    )
    assert len(writes) < 5


async def test_a_failed_write_fails_every_caller_of_its_group_only() -> None:
    calls = 0

    async def write(bodies: list[bytes]) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise BackendUnavailable("queue down")

    group = GroupCommit(write)
    first = await asyncio.gather(*(group.submit([b"x"]) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(result, BackendUnavailable) for result in first)
    await group.submit([b"y"])
    assert calls == 2


async def test_a_caller_that_gives_up_does_not_cancel_the_write() -> None:
    stored: list[bytes] = []
    release = asyncio.Event()

    async def write(bodies: list[bytes]) -> None:
        await release.wait()
        stored.extend(bodies)

    group = GroupCommit(write)
    impatient = asyncio.create_task(group.submit([b"a"]))
    patient = asyncio.create_task(group.submit([b"b"]))
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    release.set()
    await patient
    assert stored == [b"a", b"b"]
