"""The instructor's live page and its sign-in page: static files that read the class
read-outs and listen on /ws, for a browser holding the session cookie."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request, status
from fastapi.responses import FileResponse, RedirectResponse, Response

from cellmon.auth.deps import NotSignedIn, authenticate
from cellmon.core.deps import SessionDep
from cellmon.core.errors import NotFoundError

router = APIRouter(tags=["dashboard"], include_in_schema=False)

LOGIN_PATH = "/login"
STATIC_DIR = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Only the files shipped with the package are served, by exact name: no path from the URL
# ever reaches the file system.
STATIC_FILES = {path.name: path for path in STATIC_DIR.iterdir() if path.suffix in MEDIA_TYPES}
# Student identities and code are shown on this page: allow no script, style or connection
# but the server's own, so that data which slipped into markup could still not run.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time, so that an upgraded server never runs with yesterday's script.
    "Cache-Control": "no-cache",
}


def _serve(name: str) -> FileResponse:
    path = STATIC_FILES.get(name)
    if path is None:
        raise NotFoundError(f"no dashboard file {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)


async def _signed_in(request: Request, session: SessionDep) -> bool:
    try:
        return await authenticate(request, session) is not None
    except NotSignedIn:  # an expired, revoked or forged cookie: sign in again
        return False


@router.get("/dashboard")
async def dashboard_page(request: Request, session: SessionDep) -> Response:
    """The page; `?class_id=N` opens that class. A signed-out browser goes to the sign-in
    page, which brings it back here (the same URL) afterwards."""
    if not await _signed_in(request, session):
        back_here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            f"{LOGIN_PATH}?{urlencode({'next': back_here})}", status.HTTP_303_SEE_OTHER
        )
    return _serve("index.html")


@router.get(LOGIN_PATH)
async def login_page() -> FileResponse:
    """The sign-in form; `?next=/path` is where it goes afterwards (same site only)."""
    return _serve("login.html")


@router.get("/dashboard/static/{name}")
async def dashboard_file(name: str) -> FileResponse:
    return _serve(name)
