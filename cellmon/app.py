"""Build the FastAPI application and wire its backends for the lifetime of the process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from cellmon.assignments.router import router as assignments_router
from cellmon.audit.router import router as audit_router
from cellmon.auth import passwords
from cellmon.auth.router import router as auth_router
from cellmon.auth.tokens import TokenCodec, secret_key
from cellmon.classes.router import router as classes_router
from cellmon.classroom.router import router as classroom_router
from cellmon.core.backends import Backends, build_backends, build_limiter
from cellmon.core.body_limit import BodyLimit
from cellmon.core.cors import CorsPolicy
from cellmon.core.database import Database
from cellmon.core.http import (
    DirectRoutes,
    StripTrailingSlash,
    document_error_answers,
    install_error_handlers,
)
from cellmon.core.preflight import check_production
from cellmon.core.request_tracking import RequestTracking
from cellmon.core.settings import Settings, load_settings
from cellmon.dashboard.router import router as dashboard_router
from cellmon.erasure.router import router as erasure_router
from cellmon.events.router import OPENAPI_SCHEMAS as EVENTS_OPENAPI_SCHEMAS
from cellmon.events.router import router as events_router
from cellmon.executions.router import router as executions_router
from cellmon.health.router import router as health_router
from cellmon.ingestkeys.router import router as ingest_keys_router
from cellmon.ingestkeys.service import IngestKeyResolver
from cellmon.live.hub import LiveHub
from cellmon.live.router import api_router as live_api_router
from cellmon.live.router import router as live_router
from cellmon.metrics.router import router as metrics_router
from cellmon.notebooks.router import router as notebooks_router
from cellmon.progress.router import router as progress_router
from cellmon.ratelimits.middleware import RateLimits
from cellmon.ratelimits.rules import RateLimitRules
from cellmon.rosters.router import router as rosters_router
from cellmon.students.router import router as students_router
from cellmon.submissions.router import router as submissions_router
from cellmon.testevents.router import router as testevents_router
from cellmon.users.router import router as users_router

API_DESCRIPTION = """
Collects the cell executions that students' JupyterLab posts, records them, streams them live
to instructors over `/ws`, and runs classes, assignments and submissions.

The `/ws` protocol (channels, actions, limits, close codes) is described under
`GET /api/v1/live/protocol`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        database = Database(settings)
        stack.push_async_callback(database.dispose)
        backends = build_backends(settings, database)
        await backends.start(stack)
        limiter = build_limiter(settings)
        await limiter.start()
        stack.push_async_callback(limiter.close)
        app.state.limiter = limiter
        # Started after the bus it listens to and stopped before it (the stack is LIFO).
        hub = LiveHub(backends.bus, queue_size=settings.CELLMON_WS_SEND_QUEUE)
        await hub.start()
        stack.push_async_callback(hub.stop)
        app.state.database = database
        app.state.backends = backends
        app.state.hub = hub
        if settings.run_worker_in_server:
            await _start_worker(app, stack, database, backends, settings)
        await passwords.prepare()
        yield


async def _start_worker(
    app: FastAPI, stack: AsyncExitStack, database: Database, backends: Backends, settings: Settings
) -> None:
    """A queue worker inside this process, stopped (its batch finished) before the backends."""
    from cellmon.worker.runner import Worker

    worker = Worker(database, backends, settings)
    task = asyncio.create_task(worker.run(), name=f"worker {worker.name}")

    async def stop() -> None:
        worker.stop()
        await task

    stack.push_async_callback(stop)
    app.state.worker = worker


def _document_schemas(app: FastAPI, schemas: dict[str, Any]) -> None:
    """Add `schemas` to the OpenAPI document's components/schemas: those a direct route's
    body refers to, which FastAPI cannot see (the route declares no body parameter)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI builds the document once and returns the same one after: updated in place.
        document = build()
        document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    check_production(settings, secret_key)
    app = FastAPI(
        title=settings.PROJECT_NAME,
        version=settings.PROJECT_VERSION,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tokens = TokenCodec.from_settings(settings)
    rate_limit_rules = RateLimitRules.from_settings(settings)
    app.state.rate_limit_rules = rate_limit_rules
    app.state.ingest_keys = IngestKeyResolver(settings.CELLMON_INGEST_KEY_CACHE_SECONDS)

    api = settings.API_V1_STR
    for router in (
        auth_router,
        users_router,
        audit_router,
        events_router,
        executions_router,
        classes_router,
        rosters_router,
        ingest_keys_router,
        assignments_router,
        submissions_router,
        students_router,
        erasure_router,
        notebooks_router,
        progress_router,
        classroom_router,
        testevents_router,
        live_api_router,
    ):
        app.include_router(router, prefix=api)
    app.include_router(live_router)
    app.include_router(dashboard_router)
    app.include_router(health_router)
    app.include_router(metrics_router)

    _document_schemas(app, EVENTS_OPENAPI_SCHEMAS)
    install_error_handlers(app)
    document_error_answers(app)
    # Middleware added last runs first: the direct routes (which do the trailing slash,
    # request tracking and CORS of their own), then for every other request the trailing
    # slash, request tracking, CORS, rate limits and the body limit. The test-event routes
    # bound their bodies themselves, after decompression.
    cors = CorsPolicy(tuple(settings.BACKEND_CORS_ORIGINS))
    app.add_middleware(
        BodyLimit,
        limit=settings.CELLMON_MAX_API_BODY_BYTES,
        exempt=[f"{api}{testevents_router.prefix}"],
    )
    app.add_middleware(RateLimits, rules=rate_limit_rules, api_prefix=api)
    app.add_middleware(CORSMiddleware, **cors.middleware_options())
    # Inside StripTrailingSlash, which copies the scope: the router's choice of route is seen.
    app.add_middleware(RequestTracking)
    app.add_middleware(StripTrailingSlash)
    app.add_middleware(DirectRoutes, routes=events_router.routes, prefix=api, cors=cors)
    return app
