"""GET /api/v1/progress/classes/{id}: the roster, states and totals, at a fixed query count."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests.classroom.seed import Seeder, ago, database


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # No queue worker inside the app: its polling would add statements to those counted below.
    return {"CELLMON_RUN_WORKER_IN_SERVER": False}


async def _seed_class_of_four(app: FastAPI) -> dict[str, int]:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        other = await seed.klass("Other", "OTHER")
        _, cells = await seed.notebook("lessons/week1.ipynb", 3)
        asking = await seed.student(
            "asking@example.com",
            klass,
            last_activity_at=ago(minutes=1),
            help_requested_at=ago(minutes=4),
            name="Asking",
            team="チームA",
        )
        stuck = await seed.student("stuck@example.com", klass, last_activity_at=ago(minutes=1))
        active = await seed.student("active@example.com", klass, last_activity_at=ago(minutes=2))
        idle = await seed.student("idle@example.com", klass, last_activity_at=ago(minutes=30))
        outsider = await seed.student(
            "outsider@example.com", other, last_activity_at=ago(seconds=5)
        )
        await seed.runs(stuck, cells[0], "s", ago(minutes=3))
        await seed.runs(stuck, cells[1], "seee", ago(minutes=1))
        await seed.runs(active, cells[0], "ses", ago(minutes=5))
        await seed.runs(active, cells[2], "s", ago(minutes=2))
        await seed.runs(outsider, cells[1], "eeeee", ago(seconds=5))
        await session.commit()
        return {
            "class": klass.id,
            "asking": asking.id,
            "stuck": stuck.id,
            "active": active.id,
            "idle": idle.id,
            "cell0": cells[0].id,
            "cell1": cells[1].id,
            "cell2": cells[2].id,
        }


async def test_roster_tells_each_students_state_and_current_cell(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ids = await _seed_class_of_four(app)

    response = await client.get(f"/api/v1/progress/classes/{ids['class']}")

    assert response.status_code == 200
    body = response.json()
    assert body["class_name"] == "Python 1"
    assert body["stuck_threshold"] == 3
    assert body["active_minutes"] == 5
    students = {row["email"]: row for row in body["students"]}
    assert set(students) == {
        "asking@example.com",
        "stuck@example.com",
        "active@example.com",
        "idle@example.com",
    }
    assert {email: row["state"] for email, row in students.items()} == {
        "asking@example.com": "help",
        "stuck@example.com": "stuck",
        "active@example.com": "active",
        "idle@example.com": "idle",
    }
    asking = students["asking@example.com"]
    assert asking["help_active"] is True
    assert asking["help_requested_at"] is not None
    assert asking["name"] == "Asking"
    assert asking["team_name"] == "チームA"
    assert asking["current"] is None

    stuck = students["stuck@example.com"]
    assert (stuck["executions"], stuck["errors"]) == (5, 3)
    assert stuck["current"]["cell_id"] == ids["cell1"]
    assert stuck["current"]["last_status"] == "error"
    assert stuck["current"]["notebook_path"] == "lessons/week1.ipynb"
    assert stuck["stuck_on"]["cell_id"] == ids["cell1"]
    assert stuck["stuck_on"]["cell_index"] == 1
    assert stuck["stuck_on"]["consecutive_errors"] == 3
    assert stuck["stuck_on"]["last_error_message"].startswith("NameError")
    assert stuck["help_requested_at"] is None

    active = students["active@example.com"]
    assert (active["executions"], active["errors"]) == (4, 1)
    assert active["current"]["cell_id"] == ids["cell2"]
    assert active["current"]["client_cell_id"] == "cell-2"
    assert active["stuck_on"] is None

    assert body["totals"] == {
        "students": 4,
        "active": 1,
        "idle": 1,
        "stuck": 1,
        "help": 1,
        "executions": 9,
        "errors": 4,
    }


async def test_active_window_is_a_parameter(app: FastAPI, client: httpx.AsyncClient) -> None:
    ids = await _seed_class_of_four(app)

    body = (
        await client.get(f"/api/v1/progress/classes/{ids['class']}", params={"active_minutes": 60})
    ).json()

    states = {row["email"]: row["state"] for row in body["students"]}
    assert states["idle@example.com"] == "active"
    assert body["totals"]["idle"] == 0


async def test_empty_class_has_zero_totals(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with database(app).sessions() as session:
        klass = await Seeder(session).klass()
        await session.commit()

    body = (await client.get(f"/api/v1/progress/classes/{klass.id}")).json()

    assert body["students"] == []
    assert body["totals"] == dict.fromkeys(
        ("students", "active", "idle", "stuck", "help", "executions", "errors"), 0
    )


async def test_missing_class_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/progress/classes/999")

    assert response.status_code == 404
    assert response.json() == {"detail": "class 999 does not exist"}


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/progress/classes/0",
        "/api/v1/progress/classes/abc",
        "/api/v1/progress/classes/99999999999",
        "/api/v1/progress/classes/1?active_minutes=0",
        "/api/v1/progress/classes/1?active_minutes=lots",
    ],
)
async def test_bad_parameters_are_422(client: httpx.AsyncClient, url: str) -> None:
    assert (await client.get(url)).status_code == 422


async def _roster_queries(app: FastAPI, client: httpx.AsyncClient, class_id: int) -> int:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = database(app).engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = await client.get(f"/api/v1/progress/classes/{class_id}")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements)


async def test_roster_queries_do_not_grow_with_the_class(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        small, large = await seed.klass("Small", "S"), await seed.klass("Large", "L")
        _, cells = await seed.notebook("lessons/week1.ipynb", 2)
        for number in range(40):
            student = await seed.student(
                f"s{number}@example.com",
                small if number < 2 else large,
                last_activity_at=ago(minutes=1),
            )
            await seed.runs(
                student, cells[number % 2], "see" if number % 3 else "seee", ago(minutes=1)
            )
        await session.commit()

    assert await _roster_queries(app, client, small.id) == await _roster_queries(
        app, client, large.id
    )
