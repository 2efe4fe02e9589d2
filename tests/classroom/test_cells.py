"""GET /api/v1/progress/classes/{id}/cells: the per-cell heat map of a class."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.classroom.seed import Seeder, ago, database


async def _seed(app: FastAPI) -> dict[str, int]:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        other = await seed.klass("Other", "OTHER")
        week1, cells = await seed.notebook("lessons/week1.ipynb", 3)
        week2, later = await seed.notebook("lessons/week2.ipynb", 1)
        await seed.notebook("lessons/unused.ipynb", 2)
        ann = await seed.student("ann@example.com", klass)
        bob = await seed.student("bob@example.com", klass)
        cat = await seed.student("cat@example.com", klass)
        outsider = await seed.student("zed@example.com", other)
        await seed.runs(ann, cells[0], "s", ago(minutes=9))
        await seed.runs(bob, cells[0], "es", ago(minutes=8), error="SyntaxError: old")
        await seed.runs(cat, cells[0], "s", ago(minutes=7))
        await seed.runs(ann, cells[1], "eee", ago(minutes=3), error="TypeError: first")
        await seed.runs(bob, cells[1], "eeee", ago(minutes=2), error="TypeError: newest")
        await seed.runs(outsider, cells[1], "eeeeeeee", ago(minutes=1), error="KeyError: other")
        await seed.runs(cat, later[0], "s", ago(minutes=1))
        await session.commit()
        return {"class": klass.id, "week1": week1.id, "week2": week2.id}


async def test_heat_map_counts_students_errors_and_stuck_per_cell(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ids = await _seed(app)

    response = await client.get(f"/api/v1/progress/classes/{ids['class']}/cells")

    assert response.status_code == 200
    body = response.json()
    assert body["students"] == 3
    assert [notebook["path"] for notebook in body["notebooks"]] == [
        "lessons/week1.ipynb",
        "lessons/week2.ipynb",
    ]
    week1 = body["notebooks"][0]
    assert week1["name"] == "week1.ipynb"
    first, second, untouched = week1["cells"]
    assert [cell["cell_index"] for cell in week1["cells"]] == [0, 1, 2]
    assert first["students"] == 3
    assert first["students_with_errors"] == 1
    assert first["students_stuck"] == 0
    assert (first["executions"], first["errors"]) == (4, 1)
    assert first["latest_error_message"] == "SyntaxError: old"
    assert second["students"] == 2
    assert second["students_with_errors"] == 2
    assert second["students_stuck"] == 2
    assert (second["executions"], second["errors"]) == (7, 7)
    # The outsider failed later, but is not of this class.
    assert second["latest_error_message"] == "TypeError: newest"
    assert untouched == {
        "cell_id": untouched["cell_id"],
        "client_cell_id": "cell-2",
        "cell_index": 2,
        "cell_type": None,
        "students": 0,
        "students_with_errors": 0,
        "students_stuck": 0,
        "executions": 0,
        "errors": 0,
        "latest_error_message": None,
    }


async def test_heat_map_of_one_notebook(app: FastAPI, client: httpx.AsyncClient) -> None:
    ids = await _seed(app)

    body = (
        await client.get(
            f"/api/v1/progress/classes/{ids['class']}/cells", params={"notebook_id": ids["week2"]}
        )
    ).json()

    assert [notebook["notebook_id"] for notebook in body["notebooks"]] == [ids["week2"]]
    assert body["notebooks"][0]["cells"][0]["students"] == 1


async def test_heat_map_of_a_class_that_ran_nothing_is_empty(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        klass = await Seeder(session).klass()
        await session.commit()

    body = (await client.get(f"/api/v1/progress/classes/{klass.id}/cells")).json()

    assert body == {"class_id": klass.id, "students": 0, "notebooks": []}


async def test_heat_map_refuses_missing_class_and_notebook(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ids = await _seed(app)

    missing_class = await client.get("/api/v1/progress/classes/999/cells")
    missing_notebook = await client.get(
        f"/api/v1/progress/classes/{ids['class']}/cells", params={"notebook_id": 999}
    )
    bad_notebook = await client.get(
        f"/api/v1/progress/classes/{ids['class']}/cells", params={"notebook_id": "x"}
    )

    assert missing_class.status_code == 404
    assert missing_notebook.status_code == 404
    assert missing_notebook.json() == {"detail": "notebook 999 not found"}
    assert bad_notebook.status_code == 422
