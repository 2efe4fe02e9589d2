"""`GET /audit`: the audit trail, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cellmon.audit import service
from cellmon.audit.schemas import AuditEntryResponse
from cellmon.auth.deps import AdminUser
from cellmon.core.api_types import (
    DEFAULT_LIMIT,
    NO_NUL,
    Limit,
    Skip,
    UTCTimestamp,
    id_query,
)
from cellmon.core.deps import SessionDep

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get(
    "",
    response_model=list[AuditEntryResponse],
    summary="The audit trail, newest first (admins)",
)
async def list_audit_entries(
    session: SessionDep,
    _admin: AdminUser,
    skip: Skip = 0,
    limit: Limit = DEFAULT_LIMIT,
    action: Annotated[
        str | None, Query(max_length=64, description="e.g. submission.grade"), NO_NUL
    ] = None,
    actor_id: Annotated[int | None, id_query("Only what this account did.")] = None,
    target_type: Annotated[
        str | None, Query(max_length=32, description="e.g. submission"), NO_NUL
    ] = None,
    target_id: Annotated[int | None, id_query("Only entries about this target.")] = None,
    since: Annotated[UTCTimestamp | None, Query(description="Only entries at or after.")] = None,
) -> object:
    return await service.list_entries(
        session,
        skip=skip,
        limit=limit,
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        since=since,
    )
