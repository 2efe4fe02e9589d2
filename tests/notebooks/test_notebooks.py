import httpx
import pytest

from tests.lms_factories import API, make_notebook

NOTEBOOKS = f"{API}/notebooks"


async def test_create_with_and_without_name(client: httpx.AsyncClient) -> None:
    named = await client.post(NOTEBOOKS, json={"path": "lessons/a.ipynb", "name": "Lesson A"})
    assert named.status_code == 201
    assert named.json()["name"] == "Lesson A"
    assert named.json()["path"] == "lessons/a.ipynb"

    unnamed = await client.post(NOTEBOOKS, json={"path": "lessons/week1/intro.ipynb"})
    assert unnamed.status_code == 201
    assert unnamed.json()["name"] == "intro.ipynb"

    windows = await client.post(NOTEBOOKS, json={"path": "C:\\work\\hw.ipynb"})
    assert windows.json()["name"] == "hw.ipynb"

    bare = await client.post(NOTEBOOKS, json={"path": "unknown"})
    assert bare.json()["name"] == "unknown"

    fetched = await client.get(f"{NOTEBOOKS}/{unnamed.json()['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == unnamed.json()


async def test_duplicate_path_is_409(client: httpx.AsyncClient) -> None:
    await make_notebook(client, path="lessons/dup.ipynb")
    response = await client.post(NOTEBOOKS, json={"path": "lessons/dup.ipynb", "name": "Other"})
    assert response.status_code == 409
    assert "lessons/dup.ipynb" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"path": " "},
        {"path": "p" * 1025},
        {"path": "a.ipynb", "name": ""},
        {"path": "dir/" + "n" * 256},
        {"path": "a.ipynb", "size": 3},
    ],
)
async def test_invalid_bodies_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    assert (await client.post(NOTEBOOKS, json=body)).status_code == 422


async def test_list_order_pagination_and_path_filter(client: httpx.AsyncClient) -> None:
    notebooks = [await make_notebook(client) for _ in range(3)]
    listed = (await client.get(NOTEBOOKS)).json()
    assert [n["id"] for n in listed] == [n["id"] for n in notebooks]

    page = (await client.get(NOTEBOOKS, params={"skip": 2, "limit": 5})).json()
    assert [n["id"] for n in page] == [notebooks[2]["id"]]

    by_path = (await client.get(NOTEBOOKS, params={"path": notebooks[1]["path"]})).json()
    assert [n["id"] for n in by_path] == [notebooks[1]["id"]]
    assert (await client.get(NOTEBOOKS, params={"path": "nope.ipynb"})).json() == []
    assert (await client.get(NOTEBOOKS, params={"skip": -5})).status_code == 422


async def test_missing_notebook_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{NOTEBOOKS}/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "notebook 999 does not exist"}
