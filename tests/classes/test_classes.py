import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests.lms_factories import (
    API,
    make_assignment,
    make_class,
    make_student,
    make_submission,
)

CLASSES = f"{API}/classes"


async def test_create_get_and_list(client: httpx.AsyncClient) -> None:
    response = await client.post(
        CLASSES, json={"name": "  Python 101 ", "class_code": " PY101 ", "description": "Intro"}
    )
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "Python 101"
    assert created["class_code"] == "PY101"
    assert created["description"] == "Intro"
    assert created["created_at"].endswith("Z")

    fetched = await client.get(f"{CLASSES}/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created

    listed = await client.get(CLASSES)
    assert listed.status_code == 200
    assert listed.json() == [created]


async def test_list_is_ordered_by_id_and_paginated(client: httpx.AsyncClient) -> None:
    ids = [(await make_class(client))["id"] for _ in range(5)]

    everything = (await client.get(CLASSES)).json()
    assert [c["id"] for c in everything] == sorted(ids)

    page = (await client.get(CLASSES, params={"skip": 1, "limit": 2})).json()
    assert [c["id"] for c in page] == sorted(ids)[1:3]

    beyond = (await client.get(CLASSES, params={"skip": 10})).json()
    assert beyond == []
    furthest = await client.get(CLASSES, params={"skip": 2_147_483_647, "limit": 500})
    assert furthest.status_code == 200
    assert furthest.json() == []


async def test_list_default_limit_is_100(client: httpx.AsyncClient) -> None:
    for _ in range(101):
        await make_class(client)
    assert len((await client.get(CLASSES)).json()) == 100
    assert len((await client.get(CLASSES, params={"limit": 500})).json()) == 101


@pytest.mark.parametrize(
    "params",
    [
        {"skip": -1},
        {"skip": 2**31},
        {"limit": 0},
        {"limit": 501},
        {"skip": "x"},
        {"limit": "1.5"},
    ],
)
async def test_bad_pagination_is_refused(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    response = await client.get(CLASSES, params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


async def test_trailing_slash_reaches_the_same_routes(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{CLASSES}/", json={"name": "A", "class_code": "A1"})
    assert response.status_code == 201
    class_id = response.json()["id"]
    assert (await client.get(f"{CLASSES}/")).json()[0]["id"] == class_id
    assert (await client.get(f"{CLASSES}/{class_id}/")).status_code == 200


async def test_missing_class_is_404(client: httpx.AsyncClient) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = {"name": "x"} if method in ("PUT", "PATCH") else None
        response = await client.request(method, f"{CLASSES}/999", json=body)
        assert response.status_code == 404, method
        assert response.json() == {"detail": "class 999 does not exist"}


@pytest.mark.parametrize("class_id", ["abc", "1.5", "0", "-3", "99999999999"])
async def test_ids_that_cannot_exist_are_refused(client: httpx.AsyncClient, class_id: str) -> None:
    response = await client.get(f"{CLASSES}/{class_id}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "class_id"]


async def test_duplicate_class_code_is_409(client: httpx.AsyncClient) -> None:
    await make_class(client, class_code="DUP")
    response = await client.post(CLASSES, json={"name": "Other", "class_code": "DUP"})
    assert response.status_code == 409
    assert "DUP" in response.json()["detail"]


@asynccontextmanager
async def inserts_into_classes_held(app: FastAPI) -> AsyncIterator[None]:
    """Hold every INSERT INTO classes until the block ends, letting reads through: a writer
    on SQLite (BEGIN IMMEDIATE), a SHARE lock on the table on PostgreSQL."""
    url = app.state.database.url
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        async with connection.transaction():
            await connection.execute("LOCK TABLE classes IN SHARE MODE")
            yield
    finally:
        await connection.close()


async def test_concurrent_creates_with_one_code_give_one_class(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    # Every request passes the existence check before any of them inserts (their inserts
    # are held until all eight have reached theirs): the unique key then decides, and the
    # seven losers must get 409, not 500.
    racers = 8
    inserting = 0
    all_inserting = asyncio.Event()

    def count_inserts(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal inserting
        if statement.startswith("INSERT INTO classes "):
            inserting += 1
            if inserting == racers:
                all_inserting.set()

    engine = app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count_inserts)
    try:
        async with inserts_into_classes_held(app):
            creates = [
                asyncio.create_task(
                    client.post(CLASSES, json={"name": f"n{i}", "class_code": "RACE"})
                )
                for i in range(racers)
            ]
            async with asyncio.timeout(30):
                await all_inserting.wait()
        responses = await asyncio.gather(*creates)
    finally:
        event.remove(engine, "before_cursor_execute", count_inserts)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (racers - 1)
    assert len((await client.get(CLASSES)).json()) == 1


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_partial_update(client: httpx.AsyncClient, method: str) -> None:
    created = await make_class(client, description="old")
    response = await client.request(
        method, f"{CLASSES}/{created['id']}", json={"name": " New name "}
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == "New name"
    assert updated["class_code"] == created["class_code"]
    assert updated["description"] == "old"
    assert updated["updated_at"] >= created["updated_at"]

    cleared = await client.request(method, f"{CLASSES}/{created['id']}", json={"description": None})
    assert cleared.json()["description"] is None
    assert (await client.get(f"{CLASSES}/{created['id']}")).json()["description"] is None


async def test_update_to_a_taken_code_is_409_and_to_its_own_code_is_fine(
    client: httpx.AsyncClient,
) -> None:
    first = await make_class(client, class_code="FIRST")
    second = await make_class(client, class_code="SECOND")
    response = await client.put(f"{CLASSES}/{second['id']}", json={"class_code": "FIRST"})
    assert response.status_code == 409
    assert "FIRST" in response.json()["detail"]
    assert (await client.get(f"{CLASSES}/{second['id']}")).json()["class_code"] == "SECOND"

    same = await client.put(f"{CLASSES}/{first['id']}", json={"class_code": "FIRST"})
    assert same.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"class_code": "X"},
        {"name": "X"},
        {"name": "   ", "class_code": "X"},
        {"name": "X", "class_code": ""},
        {"name": "x" * 256, "class_code": "X"},
        {"name": "X", "class_code": "c" * 65},
        {"name": 5, "class_code": "X"},
        {"name": "X", "class_code": "X", "description": ["list"]},
        {"name": "X\x00", "class_code": "X"},
        {"name": "X", "class_code": "X", "colour": "red"},
    ],
)
async def test_invalid_create_bodies_are_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post(CLASSES, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


async def test_longest_names_are_accepted(client: httpx.AsyncClient) -> None:
    await make_class(client, name="n" * 255, class_code="c" * 64)


@pytest.mark.parametrize(
    "body",
    [{"name": None}, {"class_code": None}, {"class_code": " "}, {"unknown": 1}],
)
async def test_invalid_updates_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    created = await make_class(client)
    response = await client.patch(f"{CLASSES}/{created['id']}", json=body)
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"{not json", "application/json"), (b"[1, 2]", "application/json"), (b"", "")],
)
async def test_unparseable_bodies_are_422(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(CLASSES, content=content, headers={"content-type": content_type})
    assert response.status_code == 422


async def test_delete_answers_the_deleted_class(client: httpx.AsyncClient) -> None:
    created = await make_class(client)
    response = await client.delete(f"{CLASSES}/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert (await client.get(f"{CLASSES}/{created['id']}")).status_code == 404


async def test_delete_with_assignments_is_refused_unless_cascade(
    client: httpx.AsyncClient,
) -> None:
    class_ = await make_class(client)
    first = await make_assignment(client, class_["id"])
    await make_assignment(client, class_["id"])
    submission = await make_submission(client, first["id"])
    other = await make_assignment(client)  # of another class, must survive

    refused = await client.delete(f"{CLASSES}/{class_['id']}")
    assert refused.status_code == 409
    assert "2 assignment" in refused.json()["detail"]
    assert "cascade=true" in refused.json()["detail"]
    assert (await client.get(f"{CLASSES}/{class_['id']}")).status_code == 200

    deleted = await client.delete(f"{CLASSES}/{class_['id']}", params={"cascade": "true"})
    assert deleted.status_code == 200
    assert deleted.json()["id"] == class_["id"]
    assert (await client.get(f"{CLASSES}/{class_['id']}")).status_code == 404
    assert (await client.get(f"{API}/assignments/{first['id']}")).status_code == 404
    assert (await client.get(f"{API}/submissions/{submission['id']}")).status_code == 404
    assert (await client.get(f"{API}/assignments/{other['id']}")).status_code == 200


async def test_delete_takes_enrollments_but_not_students(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    student = await make_student(client)
    await client.post(f"{CLASSES}/{class_['id']}/students", json={"student_id": student["id"]})

    assert (await client.delete(f"{CLASSES}/{class_['id']}")).status_code == 200
    assert (await client.get(f"{API}/students/{student['id']}")).status_code == 200
    assert (await client.get(f"{API}/students/{student['id']}/classes")).json() == []


async def test_openapi_documents_the_class_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    item = paths[f"{CLASSES}/{{class_id}}"]
    assert set(item) == {"get", "put", "patch", "delete"}
    assert item["get"]["summary"] == "Get a class"
    assert {"404", "409"} <= set(item["put"]["responses"])
    assert {"404", "409"} <= set(item["delete"]["responses"])
    assert "409" in paths[CLASSES]["post"]["responses"]
    limit = next(p for p in paths[CLASSES]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500
