"""`POST /api/v1/events`: where every student's JupyterLab sends its events.

The hottest route of all: the app serves it as a direct route (core/http.py DirectRoutes),
without routing or dependency solving, so its endpoint takes the Request alone.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from cellmon.core.deps import get_queue, get_settings
from cellmon.events.schemas import EVENT_LIST, EventErrors, EventsAccepted
from cellmon.events.service import (
    BodyTooLarge,
    InvalidEvents,
    TooManyEvents,
    UnreadableBody,
    accept_events,
    read_body,
)

router = APIRouter(tags=["events"])

_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": EVENT_LIST.json_schema()}},
        "description": "A JSON array of events (one object is accepted too); "
        "`Content-Encoding: gzip` allowed.",
    }
}


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventsAccepted,
    summary="Take a batch of client events and queue them durably",
    openapi_extra=_REQUEST_BODY,
    responses={
        413: {"description": "Too many events, or a body too large after decompression."},
        422: {"model": EventErrors, "description": "Names each invalid event and field."},
        503: {"description": "The queue cannot take events now; retry after Retry-After."},
    },
)
async def post_events(request: Request) -> Response:
    settings = await get_settings(request)
    queue = await get_queue(request)
    limit = settings.CELLMON_MAX_BODY_BYTES
    declared = request.headers.get("content-length", "")
    try:
        # A declared length over the limit is refused before reading a byte.
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge
        body = await read_body(request.stream(), request.headers.get("content-encoding"), limit)
        count = await accept_events(body, settings, queue)
    except BodyTooLarge:
        return _error(
            413,
            f"request body over {limit} bytes (CELLMON_MAX_BODY_BYTES, counted after "
            "decompression); send fewer events per request",
        )
    except TooManyEvents:
        return _error(
            413,
            f"more than {settings.CELLMON_MAX_EVENTS_PER_REQUEST} events in one request "
            "(CELLMON_MAX_EVENTS_PER_REQUEST); split the batch",
        )
    except UnreadableBody as exc:
        return _error(400, str(exc))
    except ClientDisconnect:
        # The client left mid-body: nothing was queued and nobody reads the answer.
        return Response(status_code=400)
    except InvalidEvents as exc:
        return JSONResponse(EventErrors(detail=exc.errors).model_dump(), status_code=422)
    # Serialised here rather than through response_model: this route is the hot path.
    return Response(
        orjson.dumps({"message": f"{count} events received and queued for processing."}),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
    )


def _error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status_code)
