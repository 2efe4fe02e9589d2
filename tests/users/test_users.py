"""Accounts managed by admins over the API."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from cellmon.db.models import User
from tests.accounts import create_account, signed_in

NEW = {
    "email": "New.Teacher@Example.org",
    "password": "long enough passphrase",
    "role": "instructor",
    "full_name": "New Teacher",
}


async def test_an_admin_creates_an_account_that_can_sign_in(
    client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient
) -> None:
    created = await client.post("/api/v1/users", json=NEW)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "new.teacher@example.org"
    assert body["role"] == "instructor"
    assert body["is_active"] is True
    assert "password" not in body
    assert "password_hash" not in body
    token = await anonymous_client.post(
        "/api/v1/auth/token",
        data={"username": "new.teacher@example.org", "password": NEW["password"]},
    )
    assert token.status_code == 200
    listed = await client.get("/api/v1/users")
    assert [user["email"] for user in listed.json()] == [
        "admin@example.org",
        "new.teacher@example.org",
    ]
    audit = (await client.get("/api/v1/audit", params={"action": "user.create"})).json()
    assert [(entry["target_id"], entry["detail"]["role"]) for entry in audit] == [
        (body["id"], "instructor")
    ]


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"email": "admin@EXAMPLE.org"}, 409, "already exists"),
        ({"password": "short"}, 400, "at least 10 characters"),
        ({"password": "new.teacher@example.org"}, 400, "must not be the e-mail address"),
        ({"role": "owner"}, 422, None),
        ({"email": "not an address"}, 422, None),
    ],
)
async def test_bad_accounts_are_refused_clearly(
    client: httpx.AsyncClient, change: dict[str, str], status: int, detail: str | None
) -> None:
    answer = await client.post("/api/v1/users", json={**NEW, **change})
    assert answer.status_code == status, answer.text
    if detail is not None:
        assert detail in answer.json()["detail"]


async def test_only_admins_manage_accounts(app: FastAPI, client: httpx.AsyncClient) -> None:
    instructor = await create_account(app, "t@example.org", "instructor")
    student = await create_account(app, "s@example.org", "student")
    for user in (instructor, student):
        async with signed_in(app, user) as http:
            assert (await http.post("/api/v1/users", json=NEW)).status_code == 403
            assert (await http.get("/api/v1/users")).status_code == 403
            assert (
                await http.patch(f"/api/v1/users/{user.id}", json={"role": "admin"})
            ).status_code == 403
            me = await http.get("/api/v1/users/me")
            assert me.json()["id"] == user.id


async def test_an_admin_cannot_lock_itself_out(client: httpx.AsyncClient, admin_user: User) -> None:
    for change in ({"is_active": False}, {"role": "instructor"}):
        answer = await client.patch(f"/api/v1/users/{admin_user.id}", json=change)
        assert answer.status_code == 409
    assert (await client.get("/api/v1/users/me")).status_code == 200


async def test_a_role_change_ends_the_accounts_sessions(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    instructor = await create_account(app, "t@example.org", "instructor")
    async with signed_in(app, instructor) as http:
        assert (await http.get("/api/v1/users/me")).status_code == 200
        changed = await client.patch(f"/api/v1/users/{instructor.id}", json={"role": "student"})
        assert changed.json()["role"] == "student"
        assert (await http.get("/api/v1/users/me")).status_code == 401
