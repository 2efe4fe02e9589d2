"""A request's session is one unit of work: committed once when the route returns, before the
answer is sent, and rolled back when anything fails, a failed commit included."""

from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI, status
from sqlalchemy import select

from cellmon.core.deps import SessionDep
from cellmon.core.errors import ConflictError
from cellmon.core.unit_of_work import after_commit
from cellmon.db.models import Student
from cellmon.students import service as students
from cellmon.students.schemas import StudentCreate
from tests.lms_factories import API, make_student

ROUTE = "/unit-of-work-probe"


async def _stored(client: httpx.AsyncClient, email: str) -> list[object]:
    response = await client.get(f"{API}/students", params={"email": email})
    assert response.status_code == 200
    found: list[object] = response.json()
    return found


def _probe(app: FastAPI, endpoint: Callable[..., Awaitable[object]]) -> None:
    app.add_api_route(ROUTE, endpoint, methods=["POST"], status_code=status.HTTP_201_CREATED)


async def test_a_failure_after_a_service_flushed_its_change_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def create_then_fail(session: SessionDep) -> None:
        created = await students.create_student(session, StudentCreate(email="kept@example.com"))
        assert created.id is not None  # flushed: the row is written in the transaction
        raise ConflictError("a later step of the same request refused")

    _probe(app, create_then_fail)
    response = await client.post(ROUTE)
    assert response.status_code == 409
    assert await _stored(client, "kept@example.com") == []


async def test_a_commit_that_fails_is_an_error_answer_and_nothing_waits_on_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    existing = await make_student(client)
    ran_after_commit: list[bool] = []

    async def note() -> None:
        ran_after_commit.append(True)

    async def add_duplicate_unflushed(session: SessionDep) -> dict[str, str]:
        # Left for the commit to write, whose flush the unique e-mail address refuses.
        session.add(Student(email=existing["email"]))
        after_commit(session, note)
        return {"email": existing["email"]}

    _probe(app, add_duplicate_unflushed)
    response = await client.post(ROUTE)
    assert response.status_code == 409, response.text
    assert "nothing was saved" in response.json()["detail"]
    assert ran_after_commit == []
    assert len(await _stored(client, existing["email"])) == 1


async def test_what_waits_on_the_commit_runs_once_the_change_is_stored(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    seen_by_another_session: list[bool] = []

    async def create_and_look_after_commit(session: SessionDep) -> None:
        await students.create_student(session, StudentCreate(email="seen@example.com"))

        async def look() -> None:
            async with app.state.database.sessions() as other:
                found = await other.scalar(
                    select(Student.id).where(Student.email == "seen@example.com")
                )
            seen_by_another_session.append(found is not None)

        after_commit(session, look)

    _probe(app, create_and_look_after_commit)
    assert (await client.post(ROUTE)).status_code == 201
    assert seen_by_another_session == [True]
