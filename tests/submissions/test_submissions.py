from datetime import UTC, datetime

import httpx
import pytest

from tests.lms_factories import (
    API,
    NOTEBOOK,
    make_assignment,
    make_student,
    make_submission,
)

SUBMISSIONS = f"{API}/submissions"


async def test_create_get_list(client: httpx.AsyncClient) -> None:
    assignment = await make_assignment(client)
    student = await make_student(client)
    response = await client.post(
        SUBMISSIONS,
        json={
            "assignment_id": assignment["id"],
            "student_id": student["id"],
            "notebook_content": NOTEBOOK,
            "submitted_at": "2026-11-29T10:15:00.123+09:00",
        },
    )
    assert response.status_code == 201
    submission = response.json()
    assert submission["notebook_content"] == NOTEBOOK
    assert submission["submitted_at"] == "2026-11-29T01:15:00.123000Z"
    assert submission["status"] == "submitted"
    assert submission["grade"] is None
    assert submission["feedback"] is None
    assert submission["graded_at"] is None

    assert (await client.get(f"{SUBMISSIONS}/{submission['id']}")).json() == submission
    assert (await client.get(SUBMISSIONS)).json() == [submission]


async def test_submitted_at_defaults_to_now_and_naive_is_utc(client: httpx.AsyncClient) -> None:
    before = datetime.now(UTC)
    now = await make_submission(client)
    submitted = datetime.fromisoformat(now["submitted_at"])
    assert before <= submitted <= datetime.now(UTC)

    naive = await make_submission(client, submitted_at="2026-11-29T10:15:00")
    assert naive["submitted_at"] == "2026-11-29T10:15:00Z"


async def test_missing_assignment_or_student_is_422_naming_which(
    client: httpx.AsyncClient,
) -> None:
    assignment = await make_assignment(client)
    student = await make_student(client)

    async def submit(assignment_id: int, student_id: int) -> httpx.Response:
        return await client.post(
            SUBMISSIONS,
            json={
                "assignment_id": assignment_id,
                "student_id": student_id,
                "notebook_content": NOTEBOOK,
            },
        )

    no_assignment = await submit(999, student["id"])
    assert no_assignment.status_code == 422
    assert no_assignment.json() == {"detail": "assignment 999 does not exist"}
    no_student = await submit(assignment["id"], 998)
    assert no_student.json() == {"detail": "student 998 does not exist"}
    neither = await submit(999, 998)
    assert neither.json() == {"detail": "assignment 999 and student 998 do not exist"}


@pytest.mark.parametrize(
    "content",
    [None, [1, 2], "notebook", 3, {"text": "nul \u0000 here"}, {"cells": [{"x": "\x00"}]}],
)
async def test_notebook_content_must_be_a_storable_object(
    client: httpx.AsyncClient, content: object
) -> None:
    assignment = await make_assignment(client)
    student = await make_student(client)
    response = await client.post(
        SUBMISSIONS,
        json={
            "assignment_id": assignment["id"],
            "student_id": student["id"],
            "notebook_content": content,
        },
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "notebook_content"]


async def test_non_finite_numbers_in_notebook_content_are_422(client: httpx.AsyncClient) -> None:
    assignment = await make_assignment(client)
    student = await make_student(client)
    body = (
        f'{{"assignment_id": {assignment["id"]}, "student_id": {student["id"]}, '
        '"notebook_content": {"metadata": {"score": NaN}}}'
    )
    response = await client.post(
        SUBMISSIONS, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_list_filters_order_and_pagination(client: httpx.AsyncClient) -> None:
    assignment_a = await make_assignment(client)
    assignment_b = await make_assignment(client)
    alice = await make_student(client)
    bob = await make_student(client)
    s1 = await make_submission(client, assignment_a["id"], alice["id"])
    s2 = await make_submission(client, assignment_b["id"], alice["id"])
    s3 = await make_submission(client, assignment_a["id"], bob["id"])
    s4 = await make_submission(client, assignment_a["id"], alice["id"])

    async def ids(**params: object) -> list[int]:
        response = await client.get(SUBMISSIONS, params=params)
        assert response.status_code == 200
        return [s["id"] for s in response.json()]

    assert await ids() == [s1["id"], s2["id"], s3["id"], s4["id"]]
    assert await ids(assignment_id=assignment_a["id"]) == [s1["id"], s3["id"], s4["id"]]
    assert await ids(student_id=alice["id"]) == [s1["id"], s2["id"], s4["id"]]
    assert await ids(assignment_id=assignment_a["id"], student_id=alice["id"]) == [
        s1["id"],
        s4["id"],
    ]
    assert await ids(student_id=alice["id"], skip=1, limit=1) == [s2["id"]]
    for bad in ({"student_id": "bob"}, {"assignment_id": -1}, {"skip": -1}, {"limit": 501}):
        assert (await client.get(SUBMISSIONS, params=bad)).status_code == 422


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_partial_update(client: httpx.AsyncClient, method: str) -> None:
    submission = await make_submission(client)
    url = f"{SUBMISSIONS}/{submission['id']}"
    new_content = {"cells": [], "nbformat": 4, "metadata": {"v": 2}}

    response = await client.request(
        method, url, json={"notebook_content": new_content, "feedback": "Nice"}
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["notebook_content"] == new_content
    assert updated["feedback"] == "Nice"
    assert updated["status"] == "submitted"
    assert updated["grade"] is None

    returned = await client.request(method, url, json={"status": "returned"})
    assert returned.json()["status"] == "returned"
    assert (await client.get(url)).json()["status"] == "returned"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "lost"},
        {"status": None},
        {"grade": -1},
        {"grade": "A"},
        {"notebook_content": None},
        {"notebook_content": []},
        {"assignment_id": 2},
        {"graded_at": "2026-01-01T00:00:00Z"},
    ],
)
async def test_invalid_updates_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    submission = await make_submission(client)
    response = await client.patch(f"{SUBMISSIONS}/{submission['id']}", json=body)
    assert response.status_code == 422
    assert (await client.get(f"{SUBMISSIONS}/{submission['id']}")).json() == submission


async def test_infinite_grade_is_422(client: httpx.AsyncClient) -> None:
    submission = await make_submission(client)
    response = await client.patch(
        f"{SUBMISSIONS}/{submission['id']}",
        content=b'{"grade": Infinity}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422


async def test_missing_submission_is_404(client: httpx.AsyncClient) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = {"feedback": "x"} if method in ("PUT", "PATCH") else None
        response = await client.request(method, f"{SUBMISSIONS}/999", json=body)
        assert response.status_code == 404, method
        assert response.json() == {"detail": "submission 999 does not exist"}


async def test_delete_answers_the_deleted_submission(client: httpx.AsyncClient) -> None:
    submission = await make_submission(client)
    response = await client.delete(f"{SUBMISSIONS}/{submission['id']}")
    assert response.status_code == 200
    assert response.json() == submission
    assert (await client.get(f"{SUBMISSIONS}/{submission['id']}")).status_code == 404
    # The assignment now has no submissions, so it can go without a cascade.
    assignment_url = f"{API}/assignments/{submission['assignment_id']}"
    assert (await client.delete(assignment_url)).status_code == 200


@pytest.mark.parametrize(("depth", "status"), [(99, 201), (100, 422), (900, 422)])
async def test_notebook_content_nesting_is_bounded(
    client: httpx.AsyncClient, depth: int, status: int
) -> None:
    # {"a": [[...]]}: the object plus `depth` lists; at most 100 levels in all.
    assignment = await make_assignment(client)
    student = await make_student(client)
    nested = "[" * depth + "]" * depth
    body = (
        f'{{"assignment_id": {assignment["id"]}, "student_id": {student["id"]}, '
        f'"notebook_content": {{"a": {nested}}}}}'
    )
    response = await client.post(
        SUBMISSIONS, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    if status == 422:
        assert "deeper than 100 levels" in response.json()["detail"][0]["msg"]
