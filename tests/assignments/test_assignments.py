import httpx
import pytest

from tests.lms_factories import API, make_assignment, make_class, make_notebook, make_submission

ASSIGNMENTS = f"{API}/assignments"


async def test_create_get_list(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    notebook = await make_notebook(client)
    response = await client.post(
        ASSIGNMENTS,
        json={
            "class_id": class_["id"],
            "notebook_id": notebook["id"],
            "title": " Week 1 ",
            "description": "Loops",
            "due_date": "2026-12-01T09:00:00+09:00",
        },
    )
    assert response.status_code == 201
    assignment = response.json()
    assert assignment["title"] == "Week 1"
    assert assignment["class_id"] == class_["id"]
    assert assignment["notebook_id"] == notebook["id"]
    assert assignment["due_date"] == "2026-12-01T00:00:00Z"

    assert (await client.get(f"{ASSIGNMENTS}/{assignment['id']}")).json() == assignment
    assert (await client.get(ASSIGNMENTS)).json() == [assignment]


async def test_naive_due_date_is_taken_as_utc(client: httpx.AsyncClient) -> None:
    assignment = await make_assignment(client, due_date="2026-12-01T09:30:00")
    assert assignment["due_date"] == "2026-12-01T09:30:00Z"


@pytest.mark.parametrize(
    "due_date", ["tomorrow", "2026-13-01T00:00:00", ["2026"], "9999-12-31T23:00:00-05:00"]
)
async def test_bad_due_date_is_422(client: httpx.AsyncClient, due_date: object) -> None:
    class_ = await make_class(client)
    notebook = await make_notebook(client)
    body = {"class_id": class_["id"], "notebook_id": notebook["id"], "title": "T"}
    response = await client.post(ASSIGNMENTS, json={**body, "due_date": due_date})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "due_date"]


async def test_missing_class_or_notebook_is_422_naming_which(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    notebook = await make_notebook(client)

    no_class = await client.post(
        ASSIGNMENTS, json={"class_id": 999, "notebook_id": notebook["id"], "title": "T"}
    )
    assert no_class.status_code == 422
    assert no_class.json() == {"detail": "class 999 does not exist"}

    no_notebook = await client.post(
        ASSIGNMENTS, json={"class_id": class_["id"], "notebook_id": 998, "title": "T"}
    )
    assert no_notebook.status_code == 422
    assert no_notebook.json() == {"detail": "notebook 998 does not exist"}

    neither = await client.post(
        ASSIGNMENTS, json={"class_id": 999, "notebook_id": 998, "title": "T"}
    )
    assert neither.json() == {"detail": "class 999 and notebook 998 do not exist"}


@pytest.mark.parametrize(
    "body",
    [
        {"notebook_id": 1, "title": "T"},
        {"class_id": 1, "notebook_id": 1, "title": ""},
        {"class_id": 1, "notebook_id": 1, "title": "t" * 256},
        {"class_id": "one", "notebook_id": 1, "title": "T"},
        {"class_id": 1, "notebook_id": 2**40, "title": "T"},
        {"class_id": 1, "notebook_id": 1, "title": "T", "points": 10},
    ],
)
async def test_invalid_bodies_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await client.post(ASSIGNMENTS, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


async def test_list_filter_by_class_with_order_and_pagination(client: httpx.AsyncClient) -> None:
    class_a = await make_class(client)
    class_b = await make_class(client)
    a1 = await make_assignment(client, class_a["id"])
    b1 = await make_assignment(client, class_b["id"])
    a2 = await make_assignment(client, class_a["id"])

    everything = (await client.get(ASSIGNMENTS)).json()
    assert [a["id"] for a in everything] == [a1["id"], b1["id"], a2["id"]]

    of_a = (await client.get(ASSIGNMENTS, params={"class_id": class_a["id"]})).json()
    assert [a["id"] for a in of_a] == [a1["id"], a2["id"]]

    page = (await client.get(ASSIGNMENTS, params={"class_id": class_a["id"], "skip": 1})).json()
    assert [a["id"] for a in page] == [a2["id"]]
    assert (await client.get(ASSIGNMENTS, params={"class_id": 999})).json() == []
    assert (await client.get(ASSIGNMENTS, params={"class_id": "x"})).status_code == 422
    assert (await client.get(ASSIGNMENTS, params={"limit": 1000})).status_code == 422


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_partial_update(client: httpx.AsyncClient, method: str) -> None:
    assignment = await make_assignment(client, description="d", due_date="2026-12-01T00:00:00Z")
    url = f"{ASSIGNMENTS}/{assignment['id']}"

    retitled = await client.request(method, url, json={"title": "Week 2"})
    assert retitled.status_code == 200
    assert retitled.json()["title"] == "Week 2"
    assert retitled.json()["description"] == "d"
    assert retitled.json()["due_date"] == "2026-12-01T00:00:00Z"

    moved_due = await client.request(method, url, json={"due_date": "2026-12-02T12:00:00"})
    assert moved_due.json()["due_date"] == "2026-12-02T12:00:00Z"

    cleared = await client.request(method, url, json={"due_date": None, "description": None})
    assert cleared.json()["due_date"] is None
    assert cleared.json()["description"] is None

    other_class = await make_class(client)
    moved = await client.request(method, url, json={"class_id": other_class["id"]})
    assert moved.json()["class_id"] == other_class["id"]


async def test_update_checks_references_and_nulls(client: httpx.AsyncClient) -> None:
    assignment = await make_assignment(client)
    url = f"{ASSIGNMENTS}/{assignment['id']}"
    no_class = await client.patch(url, json={"class_id": 999})
    assert no_class.status_code == 422
    assert no_class.json() == {"detail": "class 999 does not exist"}
    no_notebook = await client.patch(url, json={"notebook_id": 999})
    assert no_notebook.json() == {"detail": "notebook 999 does not exist"}
    assert (await client.patch(url, json={"title": None})).status_code == 422
    assert (await client.patch(url, json={"class_id": None})).status_code == 422
    assert (await client.get(url)).json() == assignment


async def test_missing_assignment_is_404(client: httpx.AsyncClient) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = {"title": "x"} if method in ("PUT", "PATCH") else None
        response = await client.request(method, f"{ASSIGNMENTS}/999", json=body)
        assert response.status_code == 404, method
        assert response.json() == {"detail": "assignment 999 does not exist"}


async def test_delete(client: httpx.AsyncClient) -> None:
    assignment = await make_assignment(client)
    response = await client.delete(f"{ASSIGNMENTS}/{assignment['id']}")
    assert response.status_code == 200
    assert response.json() == assignment
    assert (await client.get(f"{ASSIGNMENTS}/{assignment['id']}")).status_code == 404


async def test_delete_with_submissions_is_refused_unless_cascade(
    client: httpx.AsyncClient,
) -> None:
    assignment = await make_assignment(client)
    submissions = [await make_submission(client, assignment["id"]) for _ in range(2)]
    kept = await make_submission(client)  # for another assignment

    refused = await client.delete(f"{ASSIGNMENTS}/{assignment['id']}")
    assert refused.status_code == 409
    assert "2 submission" in refused.json()["detail"]
    assert (await client.get(f"{ASSIGNMENTS}/{assignment['id']}")).status_code == 200

    deleted = await client.delete(f"{ASSIGNMENTS}/{assignment['id']}", params={"cascade": True})
    assert deleted.status_code == 200
    for submission in submissions:
        assert (await client.get(f"{API}/submissions/{submission['id']}")).status_code == 404
    assert (await client.get(f"{API}/submissions/{kept['id']}")).status_code == 200
    assert (await client.get(f"{API}/classes/{assignment['class_id']}")).status_code == 200


async def test_openapi_documents_due_date_and_errors(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    item = document["paths"][f"{ASSIGNMENTS}/{{assignment_id}}"]
    assert {"404", "409"} <= set(item["delete"]["responses"])
    assert "422" in document["paths"][ASSIGNMENTS]["post"]["description"]
    schema = document["components"]["schemas"]["AssignmentCreate"]["properties"]["due_date"]
    assert "UTC" in schema["description"]
