"""`POST /api/v1/events`: where every student's JupyterLab sends its events.

The hottest route of all: the app serves it as a direct route (core/http.py DirectRoutes),
before the other middlewares, without routing or dependency solving, so its endpoint takes the
Request alone, reads its `key` query parameter itself and counts its own rate limits.

The extension sends no headers of its own and posts to its `serverUrl` as it is, so a class's
ingest key travels in that URL (`?key=`). Events with a key belong to its class; a key that is
unknown or revoked is refused. Without a key, a production server refuses the events and a
development one takes them for no class.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from cellmon.core import metrics
from cellmon.core.api_types import ErrorMessage
from cellmon.core.deps import get_database, get_queue, get_settings
from cellmon.events.schemas import EVENT_LIST, EventErrors, EventsAccepted
from cellmon.events.service import (
    BodyTooLarge,
    InvalidEvents,
    TooManyEvents,
    UnreadableBody,
    accept_events,
    read_body,
)
from cellmon.ingestkeys.service import KEY_PARAMETER, ingest_key, resolver_of
from cellmon.ratelimits.service import ingest_refusal, refusal_response

router = APIRouter(tags=["events"])

UNKNOWN_KEY = (
    "unknown or revoked ingest key: ask your instructor for the class's current events URL "
    "and set it as the extension's serverUrl"
)
KEY_REQUIRED = (
    "this server takes events only at a class's events URL, which carries the class's ingest "
    "key (/api/v1/events?key=...): ask your instructor for it and set it as the extension's "
    "serverUrl"
)

# The body's schema refers to ClientEvent under components/schemas; FastAPI only collects the
# schemas of parameters a route declares, and a direct route declares none, so the app adds
# OPENAPI_SCHEMAS to the document itself.
_BODY_SCHEMA = EVENT_LIST.json_schema(ref_template="#/components/schemas/{model}")
OPENAPI_SCHEMAS: dict[str, Any] = _BODY_SCHEMA.pop("$defs")

_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": KEY_PARAMETER,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "The class's ingest key, as in the events URL an instructor "
            "creates (`POST /api/v1/classes/{class_id}/ingest-keys`). Its events belong to "
            "the class, whose roster gains their students. Required when the server runs "
            "with CELLMON_ENV=production.",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _BODY_SCHEMA}},
        "description": "A JSON array of events (one object is accepted too); "
        "`Content-Encoding: gzip` allowed, of one or more members. A value no column can "
        "hold is not refused: an integer past 32 bits in `cellIndex`, `executionCount` or "
        "`executionDurationMs` becomes null, an `eventTime` outside 1678-2261 the receive "
        "time, an integer past 64 bits in any other field null; the value as received is "
        "kept as text under `outOfRangeFields`.",
    },
}


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventsAccepted,
    summary="Take a batch of client events and queue them durably",
    openapi_extra=_OPENAPI,
    responses={
        400: {
            "model": ErrorMessage,
            "description": "The body cannot be read: a Content-Encoding other than identity "
            "or gzip, a broken or truncated gzip body, or bytes after its last member that "
            "start no other member.",
        },
        401: {
            "model": ErrorMessage,
            "description": "The key is unknown or revoked, or (CELLMON_ENV=production) "
            "missing; `detail` says which.",
        },
        413: {
            "model": ErrorMessage,
            "description": "Too many events, or a body too large after decompression.",
        },
        422: {
            "model": EventErrors,
            "description": "Names each invalid event and field. A body that is no JSON "
            "(invalid UTF-8, nested too deep, cut short) or no array of events is one error "
            "with `event_index` null.",
        },
        429: {
            "model": ErrorMessage,
            "description": "Over an ingest rate limit (CELLMON_RATE_LIMIT_INGEST_PER_KEY, "
            "_PER_ADDRESS); retry after Retry-After.",
        },
        503: {
            "model": ErrorMessage,
            "description": "The queue cannot take events now; retry after Retry-After.",
        },
    },
)
async def post_events(request: Request) -> Response:
    settings = await get_settings(request)
    queue = await get_queue(request)
    class_id: int | None = None
    key = ingest_key(request.scope["query_string"])
    refused = await ingest_refusal(request.scope, key)
    if refused is not None:
        return refusal_response(*refused)
    if key is not None:
        class_id = await resolver_of(request).class_of(key, await get_database(request))
        if class_id is None:
            metrics.REJECTED_UNKNOWN_KEY.inc()
            return _error(401, UNKNOWN_KEY)
    elif settings.is_production:
        metrics.REJECTED_KEY_REQUIRED.inc()
        return _error(401, KEY_REQUIRED)
    limit = settings.CELLMON_MAX_BODY_BYTES
    declared = request.headers.get("content-length", "")
    try:
        # A declared length over the limit is refused before reading a byte.
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge
        body = await read_body(request.stream(), request.headers.get("content-encoding"), limit)
        count = await accept_events(body, settings, queue, class_id=class_id)
    except BodyTooLarge:
        metrics.REJECTED_BODY_TOO_LARGE.inc()
        return _error(
            413,
            f"request body over {limit} bytes (CELLMON_MAX_BODY_BYTES, counted after "
            "decompression); send fewer events per request",
        )
    except TooManyEvents:
        metrics.REJECTED_TOO_MANY_EVENTS.inc()
        return _error(
            413,
            f"more than {settings.CELLMON_MAX_EVENTS_PER_REQUEST} events in one request "
            "(CELLMON_MAX_EVENTS_PER_REQUEST); split the batch",
        )
    except UnreadableBody as exc:
        metrics.REJECTED_UNREADABLE_BODY.inc()
        return _error(400, str(exc))
    except ClientDisconnect:
        metrics.REJECTED_CLIENT_DISCONNECTED.inc()
        # The client left mid-body: nothing was queued and nobody reads the answer.
        return Response(status_code=400)
    except InvalidEvents as exc:
        metrics.REJECTED_INVALID_EVENTS.inc()
        return JSONResponse(EventErrors(detail=exc.errors).model_dump(), status_code=422)
    metrics.EVENTS_ACCEPTED.inc(count)
    # Serialised here rather than through response_model: this route is the hot path.
    return Response(
        orjson.dumps({"message": f"{count} events received and queued for processing."}),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
    )


def _error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status_code)
