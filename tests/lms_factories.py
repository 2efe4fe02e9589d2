"""Create LMS entities through the API, for tests that need some to exist, and the small
world the access tests share (`two_classes`)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cellmon.db.models import User
from tests.accounts import create_account, signed_in

API = "/api/v1"
_serial = itertools.count(1)


async def created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{API}{path}", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_class(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    n = next(_serial)
    return await created(
        client, "/classes", {"name": f"Class {n}", "class_code": f"CODE-{n}", **fields}
    )


async def make_student(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    n = next(_serial)
    return await created(client, "/students", {"email": f"student{n}@example.com", **fields})


async def make_notebook(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    n = next(_serial)
    return await created(client, "/notebooks", {"path": f"lessons/week{n}.ipynb", **fields})


async def make_assignment(
    client: httpx.AsyncClient, class_id: int | None = None, **fields: Any
) -> dict[str, Any]:
    if class_id is None:
        class_id = (await make_class(client))["id"]
    notebook_id = fields.pop("notebook_id", None) or (await make_notebook(client))["id"]
    body = {"class_id": class_id, "notebook_id": notebook_id, "title": "Week 1", **fields}
    return await created(client, "/assignments", body)


NOTEBOOK = {"cells": [{"cell_type": "code", "source": "1 + 1"}], "nbformat": 4}


async def make_submission(
    client: httpx.AsyncClient,
    assignment_id: int | None = None,
    student_id: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    if assignment_id is None:
        assignment_id = (await make_assignment(client))["id"]
    if student_id is None:
        student_id = (await make_student(client))["id"]
    body = {
        "assignment_id": assignment_id,
        "student_id": student_id,
        "notebook_content": NOTEBOOK,
        **fields,
    }
    return await created(client, "/submissions", body)


ROLES = ("admin", "instructor", "other_instructor", "student", "anonymous")


@dataclass(frozen=True)
class TwoClasses:
    """Two classes, each created by its own instructor (its owner) with one student enrolled;
    the first class's student also has a student account. A client per role:

    - `admin` may do anything;
    - `instructor` teaches `own`, `other_instructor` teaches `other`;
    - `student` is `own_student`'s account;
    - `anonymous` is nobody.
    """

    app: FastAPI
    clients: dict[str, httpx.AsyncClient]
    users: dict[str, User]
    own: dict[str, Any]
    other: dict[str, Any]
    own_student: dict[str, Any]
    other_student: dict[str, Any]

    @property
    def admin(self) -> httpx.AsyncClient:
        return self.clients["admin"]

    @property
    def instructor(self) -> httpx.AsyncClient:
        return self.clients["instructor"]

    @property
    def other_instructor(self) -> httpx.AsyncClient:
        return self.clients["other_instructor"]

    @property
    def student(self) -> httpx.AsyncClient:
        return self.clients["student"]

    @property
    def anonymous(self) -> httpx.AsyncClient:
        return self.clients["anonymous"]

    async def statuses(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        roles: Sequence[str] = ROLES,
    ) -> dict[str, int]:
        """The status each role gets for the same request (made in the order of `roles`)."""
        answers = {}
        for role in roles:
            response = await self.clients[role].request(method, f"{API}{path}", json=body)
            answers[role] = response.status_code
        return answers


async def enroll(client: httpx.AsyncClient, class_id: int, student_id: int) -> None:
    response = await client.post(
        f"{API}/classes/{class_id}/students", json={"student_id": student_id}
    )
    assert response.status_code in (200, 201), response.text


@pytest.fixture
async def world(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[TwoClasses]:
    """The TwoClasses world, `client` (signed in as an admin) being its admin. A test package
    takes it by importing it into its conftest."""
    n = next(_serial)
    users = {
        "instructor": await create_account(app, f"teacher{n}@example.org", "instructor"),
        "other_instructor": await create_account(app, f"other{n}@example.org", "instructor"),
        "student": await create_account(app, f"student{n}a@example.com", "student"),
    }
    async with contextlib.AsyncExitStack() as stack:
        clients = {"admin": client}
        for role, user in users.items():
            clients[role] = await stack.enter_async_context(signed_in(app, user))
        clients["anonymous"] = await stack.enter_async_context(signed_in(app, None))
        own = await make_class(clients["instructor"])
        other = await make_class(clients["other_instructor"])
        own_student = await make_student(client, email=users["student"].email)
        other_student = await make_student(client, email=f"student{n}b@example.com")
        await enroll(clients["instructor"], own["id"], own_student["id"])
        await enroll(clients["other_instructor"], other["id"], other_student["id"])
        yield TwoClasses(app, clients, users, own, other, own_student, other_student)


async def audit_entries(admin: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    response = await admin.get(f"{API}/audit", params={"action": action})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries
