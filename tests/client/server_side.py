"""The server's side of the client's tests: a class with an ingest key, and waiting for the
executions a kernel's cells become."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

API = "/api/v1"
ARRIVAL_TIMEOUT_SECONDS = 60.0


async def class_with_key(http: httpx.AsyncClient, code: str = "CLIENT1") -> tuple[int, str]:
    """A new class and its ingest key, made through the API by an admin or instructor."""
    response = await http.post(f"{API}/classes", json={"name": "Kernel class", "class_code": code})
    assert response.status_code == 201, response.text
    class_id = int(response.json()["id"])
    response = await http.post(f"{API}/classes/{class_id}/ingest-keys", json={"label": "kernel"})
    assert response.status_code == 201, response.text
    return class_id, str(response.json()["key"])


async def executions(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await http.get(f"{API}/cell-executions", params={"limit": 500})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return sorted(found, key=lambda execution: execution["execution_count"] or 0)


async def wait_for_executions(
    http: httpx.AsyncClient, count: int, within: float = ARRIVAL_TIMEOUT_SECONDS
) -> list[dict[str, Any]]:
    """The recorded executions once there are `count` (more fail the test at once)."""
    async with asyncio.timeout(within):
        while True:
            found = await executions(http)
            assert len(found) <= count, found
            if len(found) == count:
                return found
            await asyncio.sleep(0.1)
