"""/dashboard serves the page and its own files, and nothing else from the disk."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from cellmon.dashboard.router import STATIC_DIR


async def test_page_is_served_with_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    for url in ("/dashboard", "/dashboard/", "/dashboard?class_id=3"):
        response = await client.get(url)

        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert '<script type="module" src="/dashboard/static/app.js">' in response.text
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "default-src 'none'" in policy
        assert "unsafe-inline" not in policy


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("live.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("login.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ],
)
async def test_static_files_are_served(
    client: httpx.AsyncClient, name: str, media_type: str
) -> None:
    response = await client.get(f"/dashboard/static/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"


# The page's own kinds of file; anything else beside them is there for other tools.
PAGE_SUFFIXES = {".html", ".js", ".css", ".svg"}
# Files on the disk beside the static folder, as a path join from it would name them.
PACKAGE_FILES = ["../router.py", "../__init__.py", "../../app.py", "../../core/settings.py"]


def _traversals(relative: str) -> list[str]:
    """The ways a URL can carry `relative` into a file name: slashes escaped, every character
    of it escaped, escaped twice (for a join that unquotes again)."""
    escaped = quote(relative, safe="")
    every_character = "".join(f"%{byte:02X}" for byte in relative.encode())
    return [escaped, every_character, quote(escaped, safe="")]


def _unlisted_static_files() -> list[str]:
    return sorted(
        path.name
        for path in STATIC_DIR.iterdir()
        if path.is_file() and path.suffix not in PAGE_SUFFIXES
    )


@pytest.mark.parametrize(
    "name",
    [
        "missing.js",
        "__init__.py",
        ".",
        "%2E%2E",
        *_unlisted_static_files(),
        *(traversal for relative in PACKAGE_FILES for traversal in _traversals(relative)),
    ],
)
async def test_nothing_else_is_served(client: httpx.AsyncClient, name: str) -> None:
    """Not a file that exists in the package but is not the page's, however the URL names it."""
    response = await client.get(f"/dashboard/static/{name}")

    assert response.status_code == 404


def test_the_package_holds_files_the_page_does_not_serve() -> None:
    # What makes the test above able to fail against a plain join of the folder and the name.
    assert _unlisted_static_files()
    assert all((STATIC_DIR / relative).is_file() for relative in PACKAGE_FILES)
