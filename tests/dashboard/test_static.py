"""/dashboard serves the page and its own files, and nothing else from the disk."""

from __future__ import annotations

import httpx
import pytest


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


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/static/missing.js",
        "/dashboard/static/..%2Frouter.py",
        "/dashboard/static/%2E%2E%2F%2E%2E%2Fapp.py",
        "/dashboard/static/__init__.py",
    ],
)
async def test_nothing_else_is_served(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)

    assert response.status_code == 404
