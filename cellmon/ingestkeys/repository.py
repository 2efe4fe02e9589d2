"""Ingest keys in the database: stored by the SHA-256 of the key, never the key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import IngestKey


async def add(
    session: AsyncSession,
    *,
    class_id: int,
    key_hash: str,
    prefix: str,
    label: str | None,
    created_by: int,
) -> IngestKey:
    key = IngestKey(
        class_id=class_id, key_hash=key_hash, prefix=prefix, label=label, created_by=created_by
    )
    session.add(key)
    await session.flush()
    return key


async def of_class(session: AsyncSession, class_id: int) -> Sequence[IngestKey]:
    rows = await session.scalars(
        select(IngestKey).where(IngestKey.class_id == class_id).order_by(IngestKey.id)
    )
    return rows.all()


async def get(session: AsyncSession, class_id: int, key_id: int) -> IngestKey | None:
    key: IngestKey | None = await session.scalar(
        select(IngestKey).where(IngestKey.id == key_id, IngestKey.class_id == class_id)
    )
    return key


async def class_of_active_key(session: AsyncSession, key_hash: str) -> int | None:
    """The class of the key with this hash, unless it was revoked (or never existed)."""
    class_id: int | None = await session.scalar(
        select(IngestKey.class_id).where(
            IngestKey.key_hash == key_hash, IngestKey.revoked_at.is_(None)
        )
    )
    return class_id
