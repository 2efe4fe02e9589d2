"""`GET /metrics` in Prometheus's text format (deploy/prometheus.yml scrapes it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from cellmon.core.deps import QueueDep, SettingsDep, TimeSeriesDep
from cellmon.metrics.service import may_read, scrape

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics of this host's cellmon processes",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "Prometheus text format; no label holds personal data.",
        },
        401: {"description": "CELLMON_METRICS_TOKEN is set and the bearer token is not it."},
    },
)
async def metrics(
    settings: SettingsDep,
    queue: QueueDep,
    timeseries: TimeSeriesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    if not may_read(settings, authorization):
        return JSONResponse(
            {"detail": "GET /metrics needs the bearer token CELLMON_METRICS_TOKEN"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(await scrape(queue, timeseries), media_type=CONTENT_TYPE_LATEST)
