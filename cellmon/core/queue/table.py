"""The embedded queue: a table in the SQL database, durable across restarts.

A claim hides an entry for a lease; an entry whose consumer dies before acknowledging it
becomes visible again when the lease ends. On PostgreSQL concurrent consumers skip each
other's locked rows; SQLite serialises writers, so claims there are atomic by themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable
from cellmon.core.queue.base import MessageQueue, QueuedMessage
from cellmon.core.queue.group_commit import GroupCommit
from cellmon.db.base import utcnow
from cellmon.db.models import QueueEntry

# Statements on the table, not the ORM class: the ORM's bulk insert, update and delete paths
# cost more per row than the SQL, and this queue keeps no objects in its sessions.
ENTRIES: Table = QueueEntry.__table__  # type: ignore[assignment]

DEFAULT_LEASE = timedelta(seconds=60)
# How often an idle consumer looks for entries that other processes enqueued.
POLL_INTERVAL_SECONDS = 0.2


class TableQueue(MessageQueue):
    def __init__(self, database: Database, lease: timedelta = DEFAULT_LEASE) -> None:
        self._database = database
        self._lease = lease
        # Wakes consumers in this process as soon as this process enqueues.
        self._enqueued = asyncio.Event()
        # Concurrent requests share one transaction (on SQLite, they would otherwise queue
        # for its write lock one by one).
        self._group_commit = GroupCommit(self._insert)

    async def enqueue(self, bodies: Sequence[bytes]) -> None:
        if bodies:
            await self._group_commit.submit(bodies)

    async def _insert(self, bodies: list[bytes]) -> None:
        now = utcnow()
        rows = [{"body": body, "enqueued_at": now, "visible_at": now} for body in bodies]
        try:
            async with self._database.writing() as session:
                await session.execute(insert(ENTRIES), rows)
        except (OperationalError, OSError) as exc:
            raise BackendUnavailable(f"queue table: {exc}") from exc
        self._enqueued.set()

    async def claim(
        self, consumer: str, max_count: int, block_ms: int, stop: asyncio.Event | None = None
    ) -> list[QueuedMessage]:
        deadline = asyncio.get_running_loop().time() + block_ms / 1000
        while True:
            self._enqueued.clear()
            messages = await self._claim_now(consumer, max_count)
            remaining = deadline - asyncio.get_running_loop().time()
            if messages or remaining <= 0:
                return messages
            wakers = [self._enqueued] if stop is None else [self._enqueued, stop]
            await _first_set(wakers, min(remaining, POLL_INTERVAL_SECONDS))
            if stop is not None and stop.is_set():
                return []

    async def _claim_now(self, consumer: str, max_count: int) -> list[QueuedMessage]:
        now = utcnow()
        candidates = (
            select(ENTRIES.c.id)
            .where(ENTRIES.c.visible_at <= now)
            .order_by(ENTRIES.c.id)
            .limit(max_count)
        )
        if not self._database.is_sqlite:
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(ENTRIES)
            .where(ENTRIES.c.id.in_(candidates.scalar_subquery()))
            .values(
                visible_at=now + self._lease,
                deliveries=ENTRIES.c.deliveries + 1,
                claimed_by=consumer,
            )
            .returning(ENTRIES.c.id, ENTRIES.c.body, ENTRIES.c.deliveries)
        )
        try:
            async with self._database.writing() as session:
                rows = (await session.execute(statement)).all()
        except (OperationalError, OSError) as exc:
            raise BackendUnavailable(f"queue table: {exc}") from exc
        return [
            QueuedMessage(str(row.id), (row.body,), row.deliveries)
            for row in sorted(rows, key=lambda row: row.id)
        ]

    async def ack(self, message_ids: Sequence[str]) -> None:
        if not message_ids:
            return
        ids = [int(message_id) for message_id in message_ids]
        try:
            async with self._database.writing() as session:
                await session.execute(delete(ENTRIES).where(ENTRIES.c.id.in_(ids)))
        except (OperationalError, OSError) as exc:
            raise BackendUnavailable(f"queue table: {exc}") from exc

    async def depth(self) -> int:
        async with self._database.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(ENTRIES))
        return int(count or 0)

    async def oldest_age_seconds(self) -> float:
        async with self._database.sessions() as session:
            oldest = await session.scalar(select(func.min(ENTRIES.c.enqueued_at)))
        return max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0

    async def ping(self) -> None:
        try:
            await self.depth()
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"queue table: {exc}") from exc


async def _first_set(events: Sequence[asyncio.Event], seconds: float) -> None:
    """Wait until one of `events` is set, or for `seconds`."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
