"""Test events in the `test_events` table; rows older than the retention are never read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import TestEvent


async def add(
    session: AsyncSession, test_id: str, payloads: Sequence[str], received_at: datetime
) -> None:
    if payloads:
        rows = [{"test_id": test_id, "payload": p, "received_at": received_at} for p in payloads]
        await session.execute(insert(TestEvent), rows)


async def payloads(session: AsyncSession, test_id: str, since: datetime) -> list[str]:
    statement = (
        select(TestEvent.payload)
        .where(TestEvent.test_id == test_id, TestEvent.received_at >= since)
        .order_by(TestEvent.id)
    )
    return list((await session.execute(statement)).scalars())


async def remove(session: AsyncSession, test_id: str, since: datetime) -> int:
    """Delete the test id's events; return how many were still retained."""
    retained = await session.scalar(
        select(func.count())
        .select_from(TestEvent)
        .where(TestEvent.test_id == test_id, TestEvent.received_at >= since)
    )
    await session.execute(delete(TestEvent).where(TestEvent.test_id == test_id))
    return retained or 0


async def summaries(session: AsyncSession, since: datetime) -> list[tuple[str, int, datetime]]:
    statement = (
        select(TestEvent.test_id, func.count(), func.max(TestEvent.received_at))
        .where(TestEvent.received_at >= since)
        .group_by(TestEvent.test_id)
        .order_by(TestEvent.test_id)
    )
    return [(test_id, count, last) for test_id, count, last in (await session.execute(statement))]


async def remove_expired(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(TestEvent).where(TestEvent.received_at < before))
