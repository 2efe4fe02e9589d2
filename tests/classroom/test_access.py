"""The class read-outs and closing help requests are for the class's instructors and admins:
another class's instructor and every student account get 404, as for a missing class."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, event

from tests.classroom.seed import database
from tests.classroom.two_classes import TwoClasses

READ_OUTS = ["", "/cells", "/timeline"]


@pytest.mark.parametrize("read_out", READ_OUTS)
@pytest.mark.parametrize(
    ("who", "klass", "status"),
    [
        ("admin", "python", 200),
        ("admin", "lab", 200),
        ("teacher", "python", 200),
        ("teacher", "lab", 404),
        ("other_teacher", "python", 404),
        ("other_teacher", "lab", 200),
        ("ann", "python", 404),
        ("anonymous", "python", 401),
    ],
)
async def test_read_outs_are_for_the_class_instructors_and_admins(
    two_classes: TwoClasses, read_out: str, who: str, klass: str, status: int
) -> None:
    class_id = getattr(two_classes, klass)
    async with two_classes.as_(who) as http:
        response = await http.get(f"/api/v1/progress/classes/{class_id}{read_out}")
    assert response.status_code == status
    if status == 200:
        assert response.json()["class_id"] == class_id
    elif status == 404:
        assert response.json() == {"detail": f"class {class_id} does not exist"}


async def test_the_roster_shows_the_instructor_its_own_students(two_classes: TwoClasses) -> None:
    async with two_classes.as_("teacher") as http:
        roster = (await http.get(f"/api/v1/progress/classes/{two_classes.python}")).json()
        cells = (await http.get(f"/api/v1/progress/classes/{two_classes.python}/cells")).json()
    assert [row["email"] for row in roster["students"]] == ["ann@example.com", "bob@example.com"]
    assert [notebook["path"] for notebook in cells["notebooks"]] == ["lessons/week1.ipynb"]


def _resolve(two_classes: TwoClasses) -> str:
    return f"/api/v1/progress/classes/{two_classes.python}/help/{two_classes.bob}/resolve"


async def _help_resolutions(two_classes: TwoClasses) -> list[dict[str, object]]:
    async with two_classes.as_("admin") as http:
        response = await http.get("/api/v1/audit", params={"action": "help.resolve"})
    assert response.status_code == 200
    entries: list[dict[str, object]] = response.json()
    return entries


async def _bob_asks_for_help(http: httpx.AsyncClient, two_classes: TwoClasses) -> bool:
    roster = (await http.get(f"/api/v1/progress/classes/{two_classes.python}")).json()
    [bob] = [row for row in roster["students"] if row["id"] == two_classes.bob]
    asking: bool = bob["help_active"]
    return asking


@pytest.mark.parametrize("who", ["teacher", "admin"])
async def test_the_class_instructor_closes_a_request_and_the_audit_trail_says_who(
    two_classes: TwoClasses, who: str
) -> None:
    async with two_classes.as_(who) as http:
        first = await http.post(_resolve(two_classes))
        again = await http.post(_resolve(two_classes))
        still_asking = await _bob_asks_for_help(http, two_classes)

    assert (first.status_code, first.json()["was_active"]) == (200, True)
    assert (again.status_code, again.json()["was_active"]) == (200, False)
    assert still_asking is False
    actor = two_classes.accounts[who]
    assert actor is not None
    entries = await _help_resolutions(two_classes)
    assert [
        (entry["actor_id"], entry["target_type"], entry["target_id"], entry["detail"])
        for entry in entries
    ] == [
        (
            actor.id,
            "student",
            two_classes.bob,
            {"class_id": two_classes.python, "student_id": two_classes.bob, "was_open": was_open},
        )
        for was_open in (False, True)  # newest first
    ]


@pytest.mark.parametrize(
    ("who", "status"), [("other_teacher", 404), ("ann", 404), ("anonymous", 401)]
)
async def test_nobody_else_closes_a_request(two_classes: TwoClasses, who: str, status: int) -> None:
    async with two_classes.as_(who) as http:
        response = await http.post(_resolve(two_classes))

    assert response.status_code == status
    if status == 404:
        assert response.json() == {"detail": f"class {two_classes.python} does not exist"}
    async with two_classes.as_("teacher") as http:
        assert await _bob_asks_for_help(http, two_classes) is True
    assert await _help_resolutions(two_classes) == []


async def test_the_audit_entry_is_committed_with_the_closed_request(
    two_classes: TwoClasses,
) -> None:
    """The UPDATE of the student, the audit INSERT and the live position that orders the
    message about it go in one transaction: one commits only with the others."""
    steps: list[tuple[int, str]] = []

    def statement(conn: Connection, *args: Any) -> None:
        words = args[1].split()
        steps.append((id(conn), " ".join(words[:3]).lower().replace('"', "")))

    def commit(conn: Connection) -> None:
        steps.append((id(conn), "commit"))

    engine = database(two_classes.app).engine.sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        async with two_classes.as_("teacher") as http:
            response = await http.post(_resolve(two_classes))
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)

    assert response.json()["was_active"] is True
    [(connection, _)] = [step for step in steps if step[1] == "update students set"]
    writes = [
        step
        for conn, step in steps
        if conn == connection and step.split()[0] in {"update", "insert", "commit"}
    ]
    assert sorted(writes[:3]) == [
        "insert into audit_entries",
        "insert into live_position",
        "update students set",
    ]
    assert writes[3] == "commit"
