"""DirectRoutes: a hot route served before routing keeps the app's error handling."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from cellmon.core.errors import BackendUnavailable
from cellmon.core.http import DirectRoutes, install_error_handlers


class Broken(Exception):
    pass


def direct_app() -> FastAPI:
    app = FastAPI()
    hot_router = APIRouter()

    @hot_router.post("/hot")
    async def hot(request: Request) -> Response:
        kind = request.query_params.get("fail")
        if kind == "backend":
            raise BackendUnavailable("queue down")
        if kind == "bug":
            raise Broken("a bug")
        # The router names the endpoint it matched in the scope; a direct call has none.
        return JSONResponse({"routed": "endpoint" in request.scope}, status_code=202)

    @app.post("/routed")
    async def routed(request: Request) -> dict[str, bool]:
        return {"routed": "endpoint" in request.scope}

    app.include_router(hot_router, prefix="/api")
    install_error_handlers(app)
    app.add_middleware(DirectRoutes, routes=hot_router.routes, prefix="/api")
    return app


async def post(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path)


async def test_direct_route_and_the_others_are_served() -> None:
    app = direct_app()
    hot = await post(app, "/api/hot")
    assert (hot.status_code, hot.json()) == (202, {"routed": False})
    assert (await post(app, "/routed")).json() == {"routed": True}
    # Another method on the same path goes to the router, which refuses it.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/api/hot")).status_code == 405


async def test_an_exception_gets_the_apps_handler_response() -> None:
    response = await post(direct_app(), "/api/hot?fail=backend")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.json() == {"detail": "temporarily unavailable: queue down"}


async def test_an_exception_without_handler_is_a_500() -> None:
    response = await post(direct_app(), "/api/hot?fail=bug")
    assert response.status_code == 500


def test_a_route_with_dependencies_cannot_be_direct() -> None:
    router = APIRouter()

    async def dependency() -> int:
        return 1

    @router.post("/needs")
    async def needs(value: Annotated[int, Depends(dependency)]) -> int:
        return value

    with pytest.raises(ValueError, match="takes the Request alone"):
        DirectRoutes(FastAPI(), router.routes)
