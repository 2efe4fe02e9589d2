"""DirectRoutes: a hot route served before every middleware keeps the app's error handling,
path normalisation, request ids and CORS answers."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from cellmon.core.cors import CorsPolicy
from cellmon.core.errors import BackendUnavailable
from cellmon.core.http import DirectRoutes, install_error_handlers


class Broken(Exception):
    pass


CORS = CorsPolicy(("https://jupyter.example.edu",))


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
    app.add_middleware(DirectRoutes, routes=hot_router.routes, prefix="/api", cors=CORS)
    return app


async def post(app: FastAPI, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, headers=headers)


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
        DirectRoutes(FastAPI(), router.routes, "", CORS)


async def test_a_trailing_slash_reaches_the_direct_route() -> None:
    hot = await post(direct_app(), "/api/hot/")
    assert (hot.status_code, hot.json()) == (202, {"routed": False})


async def test_the_direct_route_answers_a_request_id() -> None:
    app = direct_app()
    given = await post(app, "/api/hot", headers={"X-Request-ID": "edge-7f3a"})
    assert given.headers["X-Request-ID"] == "edge-7f3a"
    made = await post(app, "/api/hot", headers={"X-Request-ID": "has space"})
    assert made.headers["X-Request-ID"] not in ("", "has space")
    failed = await post(app, "/api/hot?fail=backend")
    assert failed.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://jupyter.example.edu", "https://jupyter.example.edu"),
        ("http://localhost:8888", "http://localhost:8888"),
        ("https://evil.example.com", None),
        (None, None),
    ],
)
async def test_the_direct_route_answers_cors_headers_of_the_policy(
    origin: str | None, allowed: str | None
) -> None:
    response = await post(direct_app(), "/api/hot", headers={"Origin": origin} if origin else None)
    assert response.headers.get("access-control-allow-origin") == allowed
    assert response.headers["vary"] == "Origin"


async def test_the_direct_route_is_found_under_a_proxys_root_path() -> None:
    transport = httpx.ASGITransport(app=direct_app(), root_path="/cellmon")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        hot = await client.post("/cellmon/api/hot")
    assert (hot.status_code, hot.json()) == (202, {"routed": False})
