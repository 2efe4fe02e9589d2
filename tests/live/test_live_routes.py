"""The live HTTP routes' rights: broadcasting and the hub's counters are for admins; the
protocol description, which holds no data, is open."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from cellmon.db.models import User
from tests.accounts import create_account, signed_in


async def account(app: FastAPI, role: str, admin: User) -> User | None:
    if role == "nobody":
        return None
    if role == "admin":
        return admin
    return await create_account(app, f"{role}@example.org", role)


@pytest.mark.parametrize(
    ("role", "status"), [("nobody", 401), ("student", 403), ("instructor", 403), ("admin", 202)]
)
async def test_only_admins_broadcast(
    app: FastAPI, admin_user: User, role: str, status: int
) -> None:
    async with signed_in(app, await account(app, role, admin_user)) as http:
        response = await http.post("/api/v1/broadcast", json={"message": "Break until 10:30"})
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("role", "status"), [("nobody", 401), ("student", 403), ("instructor", 403), ("admin", 200)]
)
async def test_only_admins_read_the_hub_counters(
    app: FastAPI, admin_user: User, role: str, status: int
) -> None:
    async with signed_in(app, await account(app, role, admin_user)) as http:
        response = await http.get("/api/v1/live/stats")
    assert response.status_code == status, response.text


async def test_the_protocol_is_open_to_anyone(anonymous_client: httpx.AsyncClient) -> None:
    response = await anonymous_client.get("/api/v1/live/protocol")
    assert response.status_code == 200
    protocol = response.json()
    assert "Authorization: Bearer" in protocol["authentication"]
    assert "any signed-in account" in protocol["channels"]["broadcast"]
