"""Who may read and change classes, their rosters and who teaches them."""

import httpx

from tests.lms_factories import API, TwoClasses, audit_entries, make_class, make_student

CLASSES = f"{API}/classes"
DENIED_WRITE = {"other_instructor": 404, "student": 403, "anonymous": 401}
DENIED_WRITE_ROLES = tuple(DENIED_WRITE)


async def test_instructor_creates_a_class_and_owns_it(world: TwoClasses) -> None:
    created = await make_class(world.instructor)
    instructors = await world.instructor.get(f"{CLASSES}/{created['id']}/instructors")
    assert instructors.status_code == 200
    [owner] = instructors.json()
    assert owner["user_id"] == world.users["instructor"].id
    assert owner["email"] == world.users["instructor"].email
    assert owner["is_owner"] is True
    # Nobody else teaches it.
    assert (await world.other_instructor.get(f"{CLASSES}/{created['id']}")).status_code == 404


async def test_an_admin_who_creates_a_class_owns_it(
    world: TwoClasses, client: httpx.AsyncClient
) -> None:
    created = await make_class(client)
    [owner] = (await client.get(f"{CLASSES}/{created['id']}/instructors")).json()
    assert owner["email"] == "admin@example.org"
    assert owner["is_owner"] is True


async def test_students_and_nobody_cannot_create_classes(world: TwoClasses) -> None:
    body = {"name": "Mine", "class_code": "MINE-1"}
    assert await world.statuses("POST", "/classes", body, roles=("student", "anonymous")) == {
        "student": 403,
        "anonymous": 401,
    }
    assert (await world.admin.get(CLASSES)).json() == [world.own, world.other]


async def test_each_sees_only_its_classes(world: TwoClasses) -> None:
    seen = {}
    for role, http in world.clients.items():
        response = await http.get(CLASSES)
        seen[role] = [c["id"] for c in response.json()] if response.status_code == 200 else None
    assert seen == {
        "admin": [world.own["id"], world.other["id"]],
        "instructor": [world.own["id"]],
        "other_instructor": [world.other["id"]],
        "student": [world.own["id"]],
        "anonymous": None,
    }


async def test_get_a_class(world: TwoClasses) -> None:
    assert await world.statuses("GET", f"/classes/{world.own['id']}") == {
        "admin": 200,
        "instructor": 200,
        "other_instructor": 404,
        "student": 200,
        "anonymous": 401,
    }
    hidden = await world.other_instructor.get(f"{CLASSES}/{world.own['id']}")
    missing = await world.other_instructor.get(f"{CLASSES}/999")
    assert hidden.json()["detail"] == f"class {world.own['id']} does not exist"
    assert missing.json()["detail"] == "class 999 does not exist"
    assert (await world.student.get(f"{CLASSES}/{world.other['id']}")).status_code == 404


async def test_only_the_class_s_instructors_change_it(world: TwoClasses) -> None:
    path = f"/classes/{world.own['id']}"
    for method in ("PUT", "PATCH"):
        denied = await world.statuses(method, path, {"name": "Taken"}, DENIED_WRITE_ROLES)
        assert denied == DENIED_WRITE, method
    changed = await world.instructor.patch(f"{API}{path}", json={"name": "Renamed"})
    assert changed.status_code == 200
    assert changed.json()["name"] == "Renamed"


async def test_only_the_class_s_instructors_delete_it_and_it_is_audited(
    world: TwoClasses,
) -> None:
    path = f"/classes/{world.own['id']}"
    assert await world.statuses("DELETE", path, roles=DENIED_WRITE_ROLES) == DENIED_WRITE
    assert await audit_entries(world.admin, "class.delete") == []
    assert (await world.instructor.delete(f"{API}{path}")).status_code == 200
    [entry] = await audit_entries(world.admin, "class.delete")
    assert entry["actor_id"] == world.users["instructor"].id
    assert entry["target_type"] == "class"
    assert entry["target_id"] == world.own["id"]
    assert entry["detail"] == {"class_code": world.own["class_code"], "assignments_deleted": 0}


async def test_only_the_class_s_instructors_enroll_and_unenroll(world: TwoClasses) -> None:
    newcomer = await make_student(world.admin)
    roster = f"/classes/{world.own['id']}/students"
    body = {"student_id": newcomer["id"]}
    assert await world.statuses("POST", roster, body, DENIED_WRITE_ROLES) == DENIED_WRITE
    assert (await world.instructor.post(f"{API}{roster}", json=body)).status_code == 201

    leave = f"{roster}/{newcomer['id']}"
    assert await world.statuses("DELETE", leave, roles=DENIED_WRITE_ROLES) == DENIED_WRITE
    assert (await world.instructor.delete(f"{API}{leave}")).status_code == 204


async def test_the_roster_is_for_the_class_s_instructors_and_admins(world: TwoClasses) -> None:
    roster = f"/classes/{world.own['id']}/students"
    assert await world.statuses("GET", roster) == {
        "admin": 200,
        "instructor": 200,
        "other_instructor": 404,
        "student": 404,
        "anonymous": 401,
    }
    [listed] = (await world.instructor.get(f"{API}{roster}")).json()
    assert listed["email"] == world.own_student["email"]


async def test_the_class_s_instructors_add_a_co_instructor_who_then_teaches_it(
    world: TwoClasses,
) -> None:
    instructors = f"/classes/{world.own['id']}/instructors"
    body = {"email": world.users["other_instructor"].email.upper()}
    assert await world.statuses("GET", instructors) == {
        "admin": 200,
        "instructor": 200,
        "other_instructor": 404,
        "student": 404,
        "anonymous": 401,
    }
    assert await world.statuses("POST", instructors, body, DENIED_WRITE_ROLES) == DENIED_WRITE

    added = await world.instructor.post(f"{API}{instructors}", json=body)
    assert added.status_code == 201
    assert added.json()["user_id"] == world.users["other_instructor"].id
    assert added.json()["is_owner"] is False
    again = await world.instructor.post(f"{API}{instructors}", json=body)
    assert again.status_code == 200
    assert again.json() == added.json()

    # The co-instructor now reads and changes the class and its roster.
    assert (await world.other_instructor.get(f"{CLASSES}/{world.own['id']}")).status_code == 200
    roster = await world.other_instructor.get(f"{CLASSES}/{world.own['id']}/students")
    assert [s["id"] for s in roster.json()] == [world.own_student["id"]]
    listed = (await world.other_instructor.get(f"{API}{instructors}")).json()
    assert [(i["user_id"], i["is_owner"]) for i in listed] == [
        (world.users["instructor"].id, True),
        (world.users["other_instructor"].id, False),
    ]

    [entry] = await audit_entries(world.admin, "class.instructor_add")
    assert entry["actor_id"] == world.users["instructor"].id
    assert entry["target_id"] == world.own["id"]
    assert entry["detail"] == {"user_id": world.users["other_instructor"].id}


async def test_a_co_instructor_must_be_an_instructor_or_admin_account(world: TwoClasses) -> None:
    instructors = f"{CLASSES}/{world.own['id']}/instructors"
    nobody = await world.instructor.post(instructors, json={"email": "nobody@example.org"})
    assert nobody.status_code == 422
    assert nobody.json()["detail"] == "no account has the e-mail address 'nobody@example.org'"
    student = world.users["student"].email
    a_student = await world.instructor.post(instructors, json={"email": student})
    assert a_student.status_code == 422
    assert a_student.json()["detail"] == (
        f"the account {student!r} is a student account; "
        "only instructor and admin accounts can teach a class"
    )
    admin = await world.instructor.post(instructors, json={"email": "admin@example.org"})
    assert admin.status_code == 201
    for body in ({}, {"email": "not an address"}, {"email": "a@b.org", "owner": True}):
        assert (await world.instructor.post(instructors, json=body)).status_code == 422, body


async def test_co_instructors_are_removed_but_never_the_owner(world: TwoClasses) -> None:
    instructors = f"{CLASSES}/{world.own['id']}/instructors"
    co = world.users["other_instructor"]
    await world.instructor.post(instructors, json={"email": co.email})
    owner = world.users["instructor"]

    # A co-instructor may remove others, but nobody removes the owner.
    refused = await world.other_instructor.delete(f"{instructors}/{owner.id}")
    assert refused.status_code == 409
    assert "owns class" in refused.json()["detail"]
    assert (await world.student.delete(f"{instructors}/{co.id}")).status_code == 403
    assert (await world.anonymous.delete(f"{instructors}/{co.id}")).status_code == 401

    assert (await world.instructor.delete(f"{instructors}/{co.id}")).status_code == 204
    assert (await world.instructor.delete(f"{instructors}/{co.id}")).status_code == 404
    assert (await world.other_instructor.get(f"{CLASSES}/{world.own['id']}")).status_code == 404

    [entry] = await audit_entries(world.admin, "class.instructor_remove")
    assert entry["actor_id"] == owner.id
    assert entry["target_id"] == world.own["id"]
    assert entry["detail"] == {"user_id": co.id}


async def test_a_co_instructor_adds_others_too(world: TwoClasses) -> None:
    instructors = f"{CLASSES}/{world.own['id']}/instructors"
    await world.instructor.post(instructors, json={"email": world.users["other_instructor"].email})
    third = await world.other_instructor.post(instructors, json={"email": "admin@example.org"})
    assert third.status_code == 201
