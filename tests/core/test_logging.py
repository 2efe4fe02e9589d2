"""What the logs may hold: uvicorn's access log, if an operator turns it on, masks the
class's ingest key in the events URL."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cellmon.core.logging import configure_logging
from tests.conftest import LiveServer

SECRET_KEY_IN_URL = "k3y-th4t-must-n0t-be-logged"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CELLMON_ACCESS_LOG": True}


@pytest.fixture
def served_log() -> Iterator[io.StringIO]:
    """Logging as `cellmon serve` sets it up, the access log turned on, written here."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    access = logging.getLogger("uvicorn.access")
    configure_logging("INFO", "json", access_log=True)
    written = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        access.setLevel(logging.WARNING)


async def test_the_access_log_masks_the_ingest_key(
    served_log: io.StringIO, live_server: LiveServer
) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:
        await http.post(
            f"/api/v1/events?source=lab&key={SECRET_KEY_IN_URL}&x=1", json=[{"eventType": "help"}]
        )
        await http.get(f"/health?key={SECRET_KEY_IN_URL}")
    server_lines = [
        line for line in served_log.getvalue().splitlines() if '"logger":"httpx"' not in line
    ]
    access_lines = [line for line in server_lines if '"logger":"uvicorn.access"' in line]
    assert len(access_lines) == 2, server_lines
    assert "/api/v1/events?source=lab&key=***&x=1" in access_lines[0]
    assert not any(SECRET_KEY_IN_URL in line for line in server_lines)
