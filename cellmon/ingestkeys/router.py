"""`/classes/{class_id}/ingest-keys`: the class's instructors (and admins) create, list and
revoke the keys its students' events URL carries."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request, Response, status

from cellmon.auth.deps import AccessDep, StaffUser
from cellmon.core.api_types import PathId, responses
from cellmon.core.deps import SessionDep, SettingsDep
from cellmon.core.unit_of_work import after_commit
from cellmon.db.models import IngestKey
from cellmon.ingestkeys import service
from cellmon.ingestkeys.schemas import IngestKeyCreate, IngestKeyCreated, IngestKeyResponse

router = APIRouter(prefix="/classes/{class_id}/ingest-keys", tags=["ingest keys"])

NO_CLASS = "No class with this id that you teach."


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IngestKeyCreated,
    summary="Create an ingest key for the class (its instructors, admins)",
    description="The answer holds the key and the `events_url` to give students (the "
    "extension's `serverUrl`); the key is shown only here. Events posted with it belong to "
    "the class, and their students are enrolled in it on first sight.",
    responses=responses(not_found=NO_CLASS),
)
async def create_ingest_key(
    class_id: PathId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _staff: StaffUser,
    access: AccessDep,
    body: IngestKeyCreate | None = None,
) -> IngestKeyCreated:
    row, key = await service.create_key(
        session, access, class_id, body.label if body is not None else None
    )
    return IngestKeyCreated(
        id=row.id,
        key=key,
        class_id=row.class_id,
        created_at=row.created_at,
        prefix=row.prefix,
        label=row.label,
        events_url=service.events_url(str(request.base_url), settings.API_V1_STR, key),
    )


@router.get(
    "",
    response_model=list[IngestKeyResponse],
    summary="The class's ingest keys, revoked ones included, by id (never the keys themselves)",
    responses=responses(not_found=NO_CLASS),
)
async def list_ingest_keys(
    class_id: PathId, session: SessionDep, _staff: StaffUser, access: AccessDep
) -> Sequence[IngestKey]:
    return await service.list_keys(session, access, class_id)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an ingest key (revoking again is harmless)",
    description="Events with the key are refused (401) at once by this server process and "
    "within CELLMON_INGEST_KEY_CACHE_SECONDS by the others.",
    responses=responses(not_found="No such key in a class you teach."),
)
async def revoke_ingest_key(
    class_id: PathId,
    key_id: PathId,
    request: Request,
    session: SessionDep,
    _staff: StaffUser,
    access: AccessDep,
) -> Response:
    key_hash = await service.revoke_key(session, access, class_id, key_id)
    resolver = service.resolver_of(request)

    async def forget() -> None:
        resolver.forget(key_hash)

    # Once the revocation is stored: forgotten earlier, the key could be looked up and
    # remembered again from the row not yet revoked.
    after_commit(session, forget)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
