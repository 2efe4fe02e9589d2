"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from cellmon.core.deps import BusDep, DatabaseDep, QueueDep, TimeSeriesDep

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: database, queue, bus and time-series store answer",
    responses={503: {"description": "A backend does not answer; the body says which."}},
)
async def ready(
    database: DatabaseDep, queue: QueueDep, bus: BusDep, timeseries: TimeSeriesDep
) -> JSONResponse:
    async def ping_database() -> None:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    checks: dict[str, Callable[[], Awaitable[None]]] = {
        "database": ping_database,
        "queue": queue.ping,
        "bus": bus.ping,
        "timeseries": timeseries.ping,
    }

    async def run(check: Callable[[], Awaitable[None]]) -> str:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:
            return f"unavailable: {type(exc).__name__}: {exc}"
        return "ok"

    results = await asyncio.gather(*(run(check) for check in checks.values()))
    components = dict(zip(checks, results, strict=True))
    healthy = all(result == "ok" for result in results)
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "components": components},
        status_code=200 if healthy else 503,
    )
