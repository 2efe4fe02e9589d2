"""Assignments are read by whoever may read their class and changed by its instructors."""

from typing import Any

from tests.lms_factories import API, TwoClasses, audit_entries, make_assignment, make_notebook

ASSIGNMENTS = f"{API}/assignments"
DENIED_WRITE = {"other_instructor": 404, "student": 403, "anonymous": 401}
DENIED_WRITE_ROLES = tuple(DENIED_WRITE)


async def assignments_of_both(world: TwoClasses) -> tuple[dict[str, Any], dict[str, Any]]:
    own = await make_assignment(world.instructor, world.own["id"])
    other = await make_assignment(world.other_instructor, world.other["id"])
    return own, other


async def test_only_the_class_s_instructors_create_its_assignments(world: TwoClasses) -> None:
    notebook = await make_notebook(world.admin)
    body = {"class_id": world.own["id"], "notebook_id": notebook["id"], "title": "Loops"}
    denied = await world.statuses("POST", "/assignments", body, ("student", "anonymous"))
    assert denied == {"student": 403, "anonymous": 401}
    # Another instructor's class is named missing, exactly as one that does not exist.
    hidden = await world.other_instructor.post(ASSIGNMENTS, json=body)
    assert hidden.status_code == 422
    assert hidden.json()["detail"] == f"class {world.own['id']} does not exist"
    missing = await world.other_instructor.post(ASSIGNMENTS, json={**body, "class_id": 999})
    assert missing.json()["detail"] == "class 999 does not exist"
    assert (await world.admin.get(ASSIGNMENTS)).json() == []
    assert (await world.instructor.post(ASSIGNMENTS, json=body)).status_code == 201


async def test_each_sees_the_assignments_of_its_classes(world: TwoClasses) -> None:
    own, other = await assignments_of_both(world)
    seen = {}
    for role, http in world.clients.items():
        response = await http.get(ASSIGNMENTS)
        seen[role] = [a["id"] for a in response.json()] if response.status_code == 200 else None
    assert seen == {
        "admin": [own["id"], other["id"]],
        "instructor": [own["id"]],
        "other_instructor": [other["id"]],
        "student": [own["id"]],
        "anonymous": None,
    }
    filtered = await world.student.get(ASSIGNMENTS, params={"class_id": world.other["id"]})
    assert filtered.json() == []


async def test_get_an_assignment(world: TwoClasses) -> None:
    own, other = await assignments_of_both(world)
    assert await world.statuses("GET", f"/assignments/{own['id']}") == {
        "admin": 200,
        "instructor": 200,
        "other_instructor": 404,
        "student": 200,
        "anonymous": 401,
    }
    hidden = await world.student.get(f"{ASSIGNMENTS}/{other['id']}")
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == f"assignment {other['id']} does not exist"


async def test_only_the_class_s_instructors_update_and_move_an_assignment(
    world: TwoClasses,
) -> None:
    own, _ = await assignments_of_both(world)
    path = f"/assignments/{own['id']}"
    for method in ("PUT", "PATCH"):
        denied = await world.statuses(method, path, {"title": "Taken"}, DENIED_WRITE_ROLES)
        assert denied == DENIED_WRITE, method
    # Moving it to a class the instructor does not teach: that class is named missing.
    moved = await world.instructor.patch(f"{API}{path}", json={"class_id": world.other["id"]})
    assert moved.status_code == 422
    assert moved.json()["detail"] == f"class {world.other['id']} does not exist"
    changed = await world.instructor.patch(f"{API}{path}", json={"title": "Recursion"})
    assert changed.status_code == 200
    assert changed.json()["title"] == "Recursion"
    assert changed.json()["class_id"] == world.own["id"]


async def test_an_instructor_of_both_classes_moves_an_assignment(world: TwoClasses) -> None:
    own, _ = await assignments_of_both(world)
    email = world.users["instructor"].email
    added = await world.other_instructor.post(
        f"{API}/classes/{world.other['id']}/instructors", json={"email": email}
    )
    assert added.status_code == 201
    moved = await world.instructor.patch(
        f"{ASSIGNMENTS}/{own['id']}", json={"class_id": world.other["id"]}
    )
    assert moved.status_code == 200
    assert moved.json()["class_id"] == world.other["id"]


async def test_only_the_class_s_instructors_delete_an_assignment_and_it_is_audited(
    world: TwoClasses,
) -> None:
    own, _ = await assignments_of_both(world)
    path = f"/assignments/{own['id']}"
    assert await world.statuses("DELETE", path, roles=DENIED_WRITE_ROLES) == DENIED_WRITE
    assert await audit_entries(world.admin, "assignment.delete") == []
    assert (await world.instructor.delete(f"{API}{path}")).status_code == 200
    [entry] = await audit_entries(world.admin, "assignment.delete")
    assert entry["actor_id"] == world.users["instructor"].id
    assert entry["target_type"] == "assignment"
    assert entry["target_id"] == own["id"]
    assert entry["detail"] == {"class_id": world.own["id"], "submissions_deleted": 0}
