"""The work queue on Redis Streams, shared by every API and worker process.

Producers XADD to one stream; workers read it through one consumer group, so each entry goes
to one consumer. An entry stays in the group's pending list until XACK (done after the work is
committed), and is then XDEL'ed so the stream does not grow for ever. Entries pending on a
consumer that stayed silent longer than the lease (it died, or hangs) are claimed again by the
next consumer that looks for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError, ResponseError
from redis.typing import EncodableT, FieldT

from cellmon.core.errors import BackendUnavailable
from cellmon.core.queue.base import MessageQueue, QueuedMessage
from cellmon.core.queue.group_commit import GroupCommit

logger = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)
# Bodies written together share an entry (one field each) up to this many bytes, so that a
# busy server's one-event requests cost Redis, and the workers reading them, one entry per
# group rather than per request; a larger body has an entry of its own.
MAX_ENTRY_BYTES = 64 * 1024
# A producer gives up quickly so that the API answers 503 (which the client retries) in time.
ENQUEUE_TIMEOUT_SECONDS = 5.0
# How often, at most, a consumer looks for entries left pending by dead consumers.
MAX_RECLAIM_INTERVAL_SECONDS = 5.0


class RedisStreamQueue(MessageQueue):
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "cellmon",
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self._redis: Redis = Redis.from_url(
            url,
            socket_connect_timeout=5,
            # Above the longest XREADGROUP block, so a blocked read is not taken for a hang.
            socket_timeout=30,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        )
        self.stream = f"{prefix}:events"
        self.group = "workers"
        self._lease_ms = int(lease.total_seconds() * 1000)
        self._reclaim_interval = min(MAX_RECLAIM_INTERVAL_SECONDS, lease.total_seconds() / 2)
        self._next_reclaim = 0.0
        # Concurrent requests share one pipeline, one round trip.
        self._group_commit = GroupCommit(self._add)

    async def start(self) -> None:
        # Producers need no group: an API process starts (and answers 503) while Redis is
        # down, and consumers create the group when they first read.
        try:
            await self._ensure_group()
        except BackendUnavailable as exc:
            logger.warning("redis queue not reachable at start", extra={"error": str(exc)})

    async def _ensure_group(self) -> None:
        try:
            # Id 0: entries added before the group existed are delivered too.
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise BackendUnavailable(f"redis queue: {exc}") from exc
        except RedisError as exc:
            raise BackendUnavailable(f"redis queue: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()

    async def enqueue(self, bodies: Sequence[bytes]) -> None:
        if bodies:
            await self._group_commit.submit(bodies)

    async def _add(self, bodies: list[bytes]) -> None:
        pipeline = self._redis.pipeline(transaction=False)
        for entry in _entries(bodies):
            pipeline.xadd(self.stream, entry)
        try:
            async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):
                await pipeline.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            raise BackendUnavailable(f"redis queue: {exc or type(exc).__name__}") from exc

    async def claim(
        self, consumer: str, max_count: int, block_ms: int, stop: asyncio.Event | None = None
    ) -> list[QueuedMessage]:
        try:
            messages = await self._reclaim_stale(consumer, max_count)
            remaining = max_count - len(messages)
            if remaining > 0:
                waits = not messages and (stop is None or not stop.is_set())
                messages += await self._read_new(
                    consumer, remaining, block_ms=block_ms if waits else None
                )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise BackendUnavailable(f"redis queue: {exc}") from exc
            # No group yet (Redis was down at start, or restarted without its data).
            await self._ensure_group()
            return []
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"redis queue: {exc or type(exc).__name__}") from exc
        return messages

    async def _read_new(
        self, consumer: str, count: int, block_ms: int | None
    ) -> list[QueuedMessage]:
        # BLOCK 0 would wait for ever; no BLOCK at all returns at once.
        block = block_ms if block_ms else None
        reply = await self._redis.xreadgroup(
            self.group, consumer, {self.stream: ">"}, count=count, block=block
        )
        streams: list[Any] = list(reply or [])
        return [
            QueuedMessage(_text(entry_id), tuple(fields.values()), 1)
            for _stream, entries in streams
            for entry_id, fields in entries
        ]

    async def _reclaim_stale(self, consumer: str, max_count: int) -> list[QueuedMessage]:
        now = asyncio.get_running_loop().time()
        if now < self._next_reclaim:
            return []
        self._next_reclaim = now + self._reclaim_interval
        pending: list[Any] = await self._redis.xpending_range(
            self.stream, self.group, "-", "+", max_count, idle=self._lease_ms
        )
        if not pending:
            return []
        deliveries = {
            _text(entry["message_id"]): int(entry["times_delivered"]) for entry in pending
        }
        # XCLAIM checks the idle time again, so two consumers never take the same entry.
        claimed: list[Any] = await self._redis.xclaim(
            self.stream, self.group, consumer, self._lease_ms, list(deliveries)
        )
        messages: list[QueuedMessage] = []
        vanished: list[str] = []
        for entry_id, fields in claimed:
            message_id = _text(entry_id)
            if not fields:
                vanished.append(message_id)
                continue
            messages.append(
                QueuedMessage(message_id, tuple(fields.values()), deliveries[message_id] + 1)
            )
        if vanished:
            # Entries deleted while pending have nothing left to process.
            await self._redis.xack(self.stream, self.group, *vanished)
        return messages

    async def ack(self, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        pipeline = self._redis.pipeline(transaction=True)
        pipeline.xack(self.stream, self.group, *message_ids)
        pipeline.xdel(self.stream, *message_ids)
        try:
            await pipeline.execute()
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"redis queue: {exc or type(exc).__name__}") from exc

    async def depth(self) -> int:
        try:
            return int(await self._redis.xlen(self.stream))
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"redis queue: {exc or type(exc).__name__}") from exc

    async def oldest_age_seconds(self) -> float:
        # Acknowledged entries are deleted, so the stream's first entry is the oldest one
        # waiting or in flight; its id starts with Redis's clock in milliseconds.
        try:
            first = await self._redis.xrange(self.stream, count=1)
            if not first:
                return 0.0
            now_seconds, now_micros = await self._redis.time()
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"redis queue: {exc or type(exc).__name__}") from exc
        entry_id = first[0][0]
        assert entry_id is not None
        added_ms = int(_text(entry_id).split("-")[0])
        return max(0.0, now_seconds + now_micros / 1e6 - added_ms / 1000)

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"redis queue: {exc or type(exc).__name__}") from exc


def _entries(bodies: list[bytes]) -> list[dict[FieldT, EncodableT]]:
    """Bodies packed in order into entries of at most MAX_ENTRY_BYTES (or one body)."""
    entries: list[dict[FieldT, EncodableT]] = []
    entry: dict[FieldT, EncodableT] = {}
    size = 0
    for body in bodies:
        if entry and size + len(body) > MAX_ENTRY_BYTES:
            entries.append(entry)
            entry, size = {}, 0
        # Field names only keep the bodies apart; a reader takes the values in order (an
        # entry of the previous version has one field, b"b").
        entry[b"%d" % len(entry)] = body
        size += len(body)
    if entry:
        entries.append(entry)
    return entries


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
