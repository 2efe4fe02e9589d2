"""The roster reads its snapshot in the request's own connection: with every connection of the
pool held by a request, a second one would never come."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.classroom.seed import Seeder, database
from tests.events.helpers import EMAIL, postgres_only


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CELLMON_DB_POOL_SIZE": 1, "CELLMON_DB_MAX_OVERFLOW": 0}


@postgres_only
async def test_the_roster_is_read_with_a_pool_of_one_connection(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        await seed.student(EMAIL, klass)
        await session.commit()
        class_id = klass.id
    # The pool waits 30 s before it gives up; the roster needs far less.
    response = await asyncio.wait_for(client.get(f"/api/v1/progress/classes/{class_id}"), 10)
    assert response.status_code == 200, response.text
    assert [row["email"] for row in response.json()["students"]] == [EMAIL]
