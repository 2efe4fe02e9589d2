"""Create LMS entities through the API, for tests that need some to exist."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

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
