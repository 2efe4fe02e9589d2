"""POST /api/v1/events with a class's ingest key (`?key=`), as the real client sends it: no
headers of its own, the key in the URL; and without one, in development and in production."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from cellmon.db.models import CellExecution, DeadLetter, IngestKey, Student, StudentClass
from cellmon.ingestkeys.service import NEGATIVE_CACHE_SECONDS, IngestKeyResolver, hash_key
from tests.events.helpers import CLIENT_SUCCESS, client_event, drain, execution
from tests.lms_factories import make_class

EVENTS = "/api/v1/events"
JSON = {"Content-Type": "application/json"}
PREFLIGHT = {
    "Origin": "http://localhost:8888",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The tests run the worker themselves (drain), so that nothing is recorded before they
    # look at the queue or change a class.
    return {"CELLMON_RUN_WORKER_IN_SERVER": False}


async def post(
    client: httpx.AsyncClient, events: Any, key: str | None = None, **headers: str
) -> httpx.Response:
    """As the extension posts: Content-Type only (httpx adds no credential of its own when the
    client given is anonymous), the key in the URL."""
    content = events if isinstance(events, bytes) else orjson.dumps(events)
    params = {"key": key} if key is not None else None
    return await client.post(EVENTS, params=params, content=content, headers={**JSON, **headers})


async def new_key(client: httpx.AsyncClient, class_id: int) -> dict[str, Any]:
    response = await client.post(f"/api/v1/classes/{class_id}/ingest-keys")
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def enrollments(app: FastAPI) -> set[tuple[str, int]]:
    async with app.state.database.sessions() as session:
        rows = await session.execute(
            select(Student.email, StudentClass.class_id).join(
                StudentClass, StudentClass.student_id == Student.id
            )
        )
        return {(email, class_id) for email, class_id in rows.all()}


async def recorded(app: FastAPI) -> int:
    async with app.state.database.sessions() as session:
        return len((await session.scalars(select(CellExecution.id))).all())


async def test_events_with_a_key_are_recorded_and_their_students_enrolled(
    client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient, app: FastAPI
) -> None:
    class_id = (await make_class(client))["id"]
    key = (await new_key(client, class_id))["key"]
    response = await post(anonymous_client, CLIENT_SUCCESS, key)
    assert response.status_code == 202
    both = [execution("c1", emailAddress="a@example.com"), execution("c2", emailAddress="b@x.org")]
    assert (await post(anonymous_client, both, key)).status_code == 202
    # Without a key (development), an event belongs to no class.
    alone = execution("c3", emailAddress="nobody@example.com")
    assert (await post(anonymous_client, [alone])).status_code == 202
    await drain(app)
    assert await recorded(app) == 4
    assert await enrollments(app) == {
        ("student001@example.com", class_id),
        ("a@example.com", class_id),
        ("b@x.org", class_id),
    }
    # Enrolled once: a later event of an enrolled student changes nothing.
    assert (
        await post(anonymous_client, [execution("c4", emailAddress="b@x.org")], key)
    ).status_code == 202
    await drain(app)
    assert len(await enrollments(app)) == 3


async def test_the_events_url_of_the_create_answer_is_the_one_that_works(
    client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient, app: FastAPI
) -> None:
    class_id = (await make_class(client))["id"]
    url = (await new_key(client, class_id))["events_url"]
    response = await anonymous_client.post(url, content=CLIENT_SUCCESS, headers=JSON)
    assert response.status_code == 202
    await drain(app)
    assert await enrollments(app) == {("student001@example.com", class_id)}


async def test_a_class_id_sent_by_the_client_enrolls_nobody(
    client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient, app: FastAPI
) -> None:
    class_id = (await make_class(client))["id"]
    other = (await make_class(client))["id"]
    key = (await new_key(client, class_id))["key"]
    assert (await post(anonymous_client, [execution("c1", classId=other)])).status_code == 202
    keyed = [execution("c2", emailAddress="b@x.org", classId=other)]
    assert (await post(anonymous_client, keyed, key)).status_code == 202
    await drain(app)
    assert await enrollments(app) == {("b@x.org", class_id)}


async def test_the_key_is_found_among_other_query_parameters(
    client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient, app: FastAPI
) -> None:
    class_id = (await make_class(client))["id"]
    key = (await new_key(client, class_id))["key"]
    for query in ([("lang", "en"), ("key", key)], [("key", key), ("lang", "en")]):
        response = await anonymous_client.post(
            EVENTS, params=query, content=orjson.dumps([execution("c1")]), headers=JSON
        )
        assert response.status_code == 202
    # Percent-encoded, as a URL-encoding tool may write it.
    encoded = "".join(f"%{byte:02X}" for byte in key.encode())
    response = await anonymous_client.post(
        f"{EVENTS}?key={encoded}", content=orjson.dumps([execution("c2")]), headers=JSON
    )
    assert response.status_code == 202
    wrong = await anonymous_client.post(
        EVENTS, params=[("lang", "en"), ("key", key + "x")], content=CLIENT_SUCCESS, headers=JSON
    )
    assert wrong.status_code == 401


@pytest.mark.parametrize("key", ["cmk_not-a-key-of-this-server", "", "k" * 1000])
async def test_an_unknown_key_is_401_and_nothing_is_queued(
    anonymous_client: httpx.AsyncClient, app: FastAPI, key: str
) -> None:
    response = await post(anonymous_client, CLIENT_SUCCESS, key)
    assert response.status_code == 401
    assert "unknown or revoked ingest key" in response.json()["detail"]
    assert await app.state.backends.queue.depth() == 0


async def test_a_revoked_key_stops_at_once_in_this_process(
    client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient, app: FastAPI
) -> None:
    class_id = (await make_class(client))["id"]
    created = await new_key(client, class_id)
    # The first event puts the key in this process's cache, for 30 s by default.
    assert (await post(anonymous_client, CLIENT_SUCCESS, created["key"])).status_code == 202
    revoked = await client.delete(f"/api/v1/classes/{class_id}/ingest-keys/{created['id']}")
    assert revoked.status_code == 204
    before = await app.state.backends.queue.depth()
    response = await post(anonymous_client, [execution("c9")], created["key"])
    assert response.status_code == 401
    assert "unknown or revoked" in response.json()["detail"]
    assert await app.state.backends.queue.depth() == before


async def test_another_process_follows_a_revocation_within_the_cache_time(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """A resolver of its own stands for another server process, on a clock the test moves."""
    now = [1000.0]
    elsewhere = IngestKeyResolver(30.0, clock=lambda: now[0])
    class_id = (await make_class(client))["id"]
    created = await new_key(client, class_id)
    database = app.state.database
    assert await elsewhere.class_of(created["key"], database) == class_id
    await client.delete(f"/api/v1/classes/{class_id}/ingest-keys/{created['id']}")
    now[0] += 29
    assert await elsewhere.class_of(created["key"], database) == class_id
    now[0] += 2
    assert await elsewhere.class_of(created["key"], database) is None


async def test_an_unknown_key_is_remembered_only_briefly(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    now = [1000.0]
    resolver = IngestKeyResolver(30.0, clock=lambda: now[0])
    class_id = (await make_class(client))["id"]
    key = "cmk_made-up-before-it-exists"
    database = app.state.database
    assert await resolver.class_of(key, database) is None
    async with database.sessions() as session:
        await session.execute(
            insert(IngestKey).values(
                class_id=class_id, key_hash=hash_key(key), prefix=key[:12], created_by=None
            )
        )
        await session.commit()
    assert await resolver.class_of(key, database) is None
    now[0] += NEGATIVE_CACHE_SECONDS + 0.1
    assert await resolver.class_of(key, database) == class_id


async def test_a_class_deleted_before_the_worker_runs_fails_nothing(
    client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient, app: FastAPI
) -> None:
    class_id = (await make_class(client))["id"]
    kept = (await make_class(client))["id"]
    gone_key = (await new_key(client, class_id))["key"]
    kept_key = (await new_key(client, kept))["key"]
    assert (await post(anonymous_client, CLIENT_SUCCESS, gone_key)).status_code == 202
    other = [execution("c2", emailAddress="b@x.org")]
    assert (await post(anonymous_client, other, kept_key)).status_code == 202
    assert (await client.delete(f"/api/v1/classes/{class_id}")).status_code == 200
    await drain(app)
    assert await recorded(app) == 2
    assert await enrollments(app) == {("b@x.org", kept)}
    async with app.state.database.sessions() as session:
        assert (await session.scalars(select(DeadLetter.id))).all() == []


async def test_cors_preflight_with_and_without_a_key(
    client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient
) -> None:
    class_id = (await make_class(client))["id"]
    key = (await new_key(client, class_id))["key"]
    for params in ({"key": key}, None):
        preflight = await anonymous_client.options(EVENTS, params=params, headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:8888"
        assert "POST" in preflight.headers["access-control-allow-methods"]
    origin = {"Origin": "http://localhost:8888"}
    posted = await post(anonymous_client, CLIENT_SUCCESS, key, **origin)
    assert posted.status_code == 202
    assert posted.headers["access-control-allow-origin"] == "http://localhost:8888"
    # A refusal reaches the page's script too, so the browser's console says why.
    refused = await post(anonymous_client, CLIENT_SUCCESS, "cmk_wrong", **origin)
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "http://localhost:8888"


async def test_the_key_and_the_401_are_documented(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/events"]["post"]
    [parameter] = operation["parameters"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == ("key", "query", False)
    assert "401" in operation["responses"]


class TestProduction:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"CELLMON_ENV": "production", "CELLMON_RUN_WORKER_IN_SERVER": False}

    async def test_events_without_a_key_are_401_naming_the_events_url(
        self, anonymous_client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        response = await post(anonymous_client, CLIENT_SUCCESS)
        assert response.status_code == 401
        assert "?key=" in response.json()["detail"]
        assert await app.state.backends.queue.depth() == 0

    async def test_events_with_a_key_are_taken(
        self, client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        class_id = (await make_class(client))["id"]
        key = (await new_key(client, class_id))["key"]
        assert (await post(anonymous_client, CLIENT_SUCCESS, key)).status_code == 202
        assert (await post(anonymous_client, CLIENT_SUCCESS, "cmk_wrong")).status_code == 401
        await drain(app)
        assert await enrollments(app) == {("student001@example.com", class_id)}


async def test_development_takes_events_without_a_key(
    anonymous_client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert (await post(anonymous_client, [client_event()])).status_code == 202
    await drain(app)
    assert await enrollments(app) == set()
