"""Who may read and change students: an instructor the students of its classes, a student
account its own record, an admin everyone."""

from tests.lms_factories import API, TwoClasses, audit_entries, enroll

STUDENTS = f"{API}/students"


async def test_each_sees_only_its_students(world: TwoClasses) -> None:
    seen = {}
    for role, http in world.clients.items():
        response = await http.get(STUDENTS)
        seen[role] = [s["id"] for s in response.json()] if response.status_code == 200 else None
    own, other = world.own_student["id"], world.other_student["id"]
    assert seen == {
        "admin": [own, other],
        "instructor": [own],
        "other_instructor": [other],
        "student": [own],
        "anonymous": None,
    }
    by_email = await world.instructor.get(STUDENTS, params={"email": world.other_student["email"]})
    assert by_email.json() == []


async def test_get_a_student(world: TwoClasses) -> None:
    assert await world.statuses("GET", f"/students/{world.own_student['id']}") == {
        "admin": 200,
        "instructor": 200,
        "other_instructor": 404,
        "student": 200,
        "anonymous": 401,
    }
    hidden = await world.student.get(f"{STUDENTS}/{world.other_student['id']}")
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == f"student {world.other_student['id']} does not exist"


async def test_only_its_instructors_change_a_student_and_it_is_audited(
    world: TwoClasses,
) -> None:
    path = f"/students/{world.own_student['id']}"
    denied = await world.statuses(
        "PATCH", path, {"name": "Mallory"}, ("other_instructor", "student", "anonymous")
    )
    assert denied == {"other_instructor": 404, "student": 403, "anonymous": 401}
    assert await audit_entries(world.admin, "student.update") == []

    changed = await world.instructor.patch(f"{API}{path}", json={"team_name": "Blue"})
    assert changed.status_code == 200
    assert changed.json()["team_name"] == "Blue"
    [entry] = await audit_entries(world.admin, "student.update")
    assert entry["actor_id"] == world.users["instructor"].id
    assert entry["target_id"] == world.own_student["id"]
    assert entry["detail"] == {"fields": ["team_name"]}


async def test_only_staff_create_students(world: TwoClasses) -> None:
    body = {"email": "newcomer@example.com"}
    denied = await world.statuses("POST", "/students", body, ("student", "anonymous"))
    assert denied == {"student": 403, "anonymous": 401}
    assert (await world.instructor.post(STUDENTS, json=body)).status_code == 201


async def test_a_student_s_classes_are_those_the_asker_may_see(world: TwoClasses) -> None:
    # The first class's student takes the second class too.
    await enroll(world.other_instructor, world.other["id"], world.own_student["id"])
    path = f"{STUDENTS}/{world.own_student['id']}/classes"
    seen = {}
    for role, http in world.clients.items():
        response = await http.get(path)
        seen[role] = [c["id"] for c in response.json()] if response.status_code == 200 else None
    both = [world.own["id"], world.other["id"]]
    assert seen == {
        "admin": both,
        "instructor": [world.own["id"]],
        "other_instructor": [world.other["id"]],
        "student": both,
        "anonymous": None,
    }
    hidden = await world.instructor.get(f"{STUDENTS}/{world.other_student['id']}/classes")
    assert hidden.status_code == 404
