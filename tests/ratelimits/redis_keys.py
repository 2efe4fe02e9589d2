"""A Redis prefix of a test's own, and its keys deleted afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aioredis
import redis.exceptions

from tests.services import REDIS_HOST, REDIS_PORT, service_missing, unique_name


async def redis_prefix() -> AsyncIterator[str]:
    client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        await client.ping()
    except (redis.exceptions.RedisError, OSError) as exc:
        await client.aclose()
        service_missing("Redis", exc)
    prefix = unique_name("cellmon_ratelimit")
    try:
        yield prefix
    finally:
        async for key in client.scan_iter(match=f"{prefix}:*"):
            await client.delete(key)
        await client.aclose()


async def keys_under(prefix: str) -> list[str]:
    client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT, decode_responses=True)
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}:*")]
    finally:
        await client.aclose()


def redis_url() -> str:
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
