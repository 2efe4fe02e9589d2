"""Writing and reading the audit trail.

`record` adds the entry to the caller's session and only flushes it: it is committed with the
change it describes, or rolled back with it, never one without the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth.principal import Principal
from cellmon.db.models import AuditEntry


async def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    target_type: str,
    target_id: int | None,
    **detail: Any,
) -> AuditEntry:
    """`action` is `<thing>.<verb>` (e.g. `submission.grade`); `detail` is what changed, never
    a secret. `actor` None is the system (the command line)."""
    entry = AuditEntry(
        actor_id=actor.user_id if actor else None,
        actor_email=actor.email if actor else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
    )
    session.add(entry)
    await session.flush()
    return entry


async def list_entries(
    session: AsyncSession,
    *,
    skip: int,
    limit: int,
    action: str | None = None,
    actor_id: int | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    since: datetime | None = None,
) -> Sequence[AuditEntry]:
    """Newest first."""
    query = select(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if target_type is not None:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    rows = await session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset(skip).limit(limit)
    )
    return rows.all()
