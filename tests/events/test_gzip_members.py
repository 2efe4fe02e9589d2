"""Gzip bodies of several members are read whole; bytes after the last member are refused.

Concatenated members are one valid gzip file (`gzip -c a b`, RFC 1952 section 2.2): taking the
first member alone and ignoring the rest lost events without a word.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.db.models import CellExecution
from cellmon.events.service import BodyTooLarge, UnreadableBody, read_body
from tests.events.helpers import drain, execution

GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
MAX_BODY = 8192


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CELLMON_MAX_BODY_BYTES": MAX_BODY}


def members(*parts: bytes) -> bytes:
    return b"".join(gzip.compress(part) for part in parts)


async def chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def read(body: bytes, size: int, limit: int = MAX_BODY) -> bytes:
    return await read_body(chunked(body, size), "gzip", limit)


async def test_every_member_of_a_gzip_body_is_read(client: httpx.AsyncClient, app: FastAPI) -> None:
    first, second, third = (execution(f"c{index}") for index in range(3))
    body = members(
        b"[" + orjson.dumps(first) + b",", orjson.dumps(second) + b",", orjson.dumps(third) + b"]"
    )
    response = await client.post("/api/v1/events", content=body, headers=GZIP)
    assert response.status_code == 202
    assert response.json()["message"].startswith("3 events")
    await drain(app)
    async with app.state.database.sessions() as session:
        recorded = set((await session.scalars(select(CellExecution.event_id))).all())
    assert recorded == {first["eventId"], second["eventId"], third["eventId"]}


async def test_garbage_after_a_gzip_member_is_400(client: httpx.AsyncClient, app: FastAPI) -> None:
    body = gzip.compress(orjson.dumps([execution("c")])) + b"trailing garbage"
    response = await client.post("/api/v1/events", content=body, headers=GZIP)
    assert response.status_code == 400
    assert "after the end of a gzip member" in response.json()["detail"]
    assert await app.state.backends.queue.depth() == 0


@pytest.mark.parametrize("size", [1, 2, 7, 64, 100_000])
async def test_members_are_read_across_any_chunk_boundary(size: int) -> None:
    body = members(b"first ", b"", b"second ", b"third")
    assert await read(body, size) == b"first second third"


@pytest.mark.parametrize(
    ("after", "words"),
    [
        (b"x", "start no other member"),
        (b"\x00\x00\x00\x00", "start no other member"),
        (b"\x1f", "truncated"),
        (b"\x1f\x8b", "truncated"),
        (b"\x1f\x8bnot a member", "invalid gzip body"),
        (gzip.compress(b"cut short", mtime=0)[:-3], "truncated"),
    ],
)
@pytest.mark.parametrize("size", [1, 5, 100_000])
async def test_bytes_after_the_last_member_that_are_none_are_refused(
    after: bytes, words: str, size: int
) -> None:
    with pytest.raises(UnreadableBody, match=words):
        await read(gzip.compress(b"[]") + after, size)


@pytest.mark.parametrize("size", [3, 100_000])
async def test_the_limit_counts_every_member(size: int) -> None:
    half = b" " * 600
    assert await read(members(half, half), size, limit=1200) == half * 2
    with pytest.raises(BodyTooLarge):
        await read(members(half, half, b" "), size, limit=1200)
