"""`/api/v1/test/events`: what a client under an end-to-end test sent, kept for ten minutes.

The events live in the database (`test_events`), so every server process sees the same ones
and a restart keeps them. A test id that received nothing (or whose events expired) reads as an
empty list, not a 404: a test that polls for its events needs no special case.

In production every route here is for admins; in development it needs no credentials, since
the extension's Jupyter-side proxy posts here without any.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from starlette.requests import HTTPConnection

from cellmon.auth.deps import get_admin, get_principal
from cellmon.core.deps import SessionDep, SettingsDep
from cellmon.testevents.schemas import (
    TEST_ID_MAX_LENGTH,
    TEST_ID_PATTERN,
    TestEvents,
    TestEventsDeleted,
    TestEventsStored,
    TestIds,
)
from cellmon.testevents.service import InvalidTestEvents, TestEventService, split_events


async def admins_in_production(
    connection: HTTPConnection, session: SessionDep, settings: SettingsDep
) -> None:
    """In production, the caller must be a signed-in admin (401 / 403 otherwise)."""
    if settings.is_production:
        principal = await get_principal(connection, session, None)
        await get_admin(principal)


router = APIRouter(
    prefix="/test/events",
    tags=["test events"],
    dependencies=[Depends(admins_in_production)],
    responses={
        401: {"description": "CELLMON_ENV=production and nobody is signed in."},
        403: {"description": "CELLMON_ENV=production and the caller is not an admin."},
    },
)

TestId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=TEST_ID_MAX_LENGTH,
        pattern=TEST_ID_PATTERN,
        description="letters, digits, `_`, `.` and `-`; e.g. `e2e_test_1f2e_42`",
    ),
]


def _service(session: SessionDep, settings: SettingsDep) -> TestEventService:
    return TestEventService(session, settings.CELLMON_TEST_EVENTS_RETENTION_SECONDS)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    return bytes(body)


@router.post(
    "/{test_id}",
    status_code=status.HTTP_201_CREATED,
    summary="Store events (a JSON array, or one object) under a test id",
    responses={
        413: {"description": "Body larger than CELLMON_MAX_BODY_BYTES."},
        422: {"description": "Bad test id, or a body that is not a JSON array or object."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": ["array", "object"]}}},
        }
    },
)
async def store_test_events(
    test_id: TestId, request: Request, session: SessionDep, settings: SettingsDep
) -> TestEventsStored:
    body = await _read_body(request, settings.CELLMON_MAX_BODY_BYTES)
    try:
        events = split_events(body)
    except InvalidTestEvents as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return await _service(session, settings).store(test_id, events)


@router.get("/{test_id}", summary="The events of a test id, oldest first")
async def read_test_events(
    test_id: TestId, session: SessionDep, settings: SettingsDep
) -> TestEvents:
    return await _service(session, settings).events(test_id)


@router.delete("/{test_id}", summary="Forget the events of a test id")
async def clear_test_events(
    test_id: TestId, session: SessionDep, settings: SettingsDep
) -> TestEventsDeleted:
    return await _service(session, settings).clear(test_id)


@router.get("", summary="The test ids with events, their counts and last arrival")
async def list_test_ids(session: SessionDep, settings: SettingsDep) -> TestIds:
    return await _service(session, settings).test_ids()
