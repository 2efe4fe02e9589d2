"""Writes under /api/v1: per account (the token's signature checked), per address without
one; reads are never counted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cellmon.auth.tokens import TokenCodec
from cellmon.db.models import User
from tests.accounts import create_account, signed_in

CLASSES = "/api/v1/classes"
LIMIT = "CELLMON_RATE_LIMIT_WRITES_PER_USER"


@pytest.fixture
def settings_overrides(limit_storage: dict[str, Any]) -> dict[str, Any]:
    return {**limit_storage, LIMIT: "3/minute"}


async def new_class(http: httpx.AsyncClient, n: int) -> httpx.Response:
    return await http.post(CLASSES, json={"name": f"Class {n}", "class_code": f"W-{n}"})


async def test_an_account_writes_up_to_its_limit(app: FastAPI, client: httpx.AsyncClient) -> None:
    for n in range(3):
        assert (await new_class(client, n)).status_code == 201
    refused = await new_class(client, 3)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert LIMIT in refused.json()["detail"]
    # Reads are not writes.
    assert (await client.get(CLASSES)).status_code == 200
    # Another account, from the same address, has its own budget.
    instructor = await create_account(app, "teacher@example.org", "instructor")
    async with signed_in(app, instructor) as other:
        assert (await new_class(other, 4)).status_code == 201


async def test_a_forged_token_spends_the_address_budget_not_the_account(
    app: FastAPI, client: httpx.AsyncClient, admin_user: User
) -> None:
    forger = TokenCodec("another-secret-that-is-long-enough-to-sign-with", 3600)
    forged = {"Authorization": f"Bearer {forger.issue(admin_user.id).token}"}
    for n in range(3):
        response = await client.post(
            CLASSES, json={"name": f"F{n}", "class_code": f"F-{n}"}, headers=forged
        )
        assert response.status_code == 401
    assert (await client.post(CLASSES, json={}, headers=forged)).status_code == 429
    # The admin's own budget is untouched.
    for n in range(3):
        assert (await new_class(client, n)).status_code == 201


async def test_anonymous_writes_are_counted_per_address(
    anonymous_client: httpx.AsyncClient,
) -> None:
    for n in range(3):
        assert (await new_class(anonymous_client, n)).status_code == 401
    assert (await new_class(anonymous_client, 3)).status_code == 429
