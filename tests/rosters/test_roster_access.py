"""Who may import a roster: the class's instructors and admins, as for enrolling one student."""

from __future__ import annotations

from tests.lms_factories import API, TwoClasses


async def test_only_the_class_s_teaching_staff_import_a_roster(world: TwoClasses) -> None:
    path = f"/classes/{world.own['id']}/roster"
    body = [{"email": "roster-new@example.org"}]
    # Each refused caller first: a refusal must change nothing the admin's import then finds.
    answers = await world.statuses(
        "POST", path, body, roles=("anonymous", "student", "other_instructor", "instructor")
    )
    assert answers == {"anonymous": 401, "student": 403, "other_instructor": 404, "instructor": 200}
    admin = await world.admin.post(f"{API}{path}", json=body)
    assert [row["outcome"] for row in admin.json()["results"]] == ["already_enrolled"]


async def test_a_csv_roster_is_refused_alike(world: TwoClasses) -> None:
    url = f"{API}/classes/{world.own['id']}/roster/csv"
    csv = b"email\nroster-csv@example.org\n"
    answers = {}
    for role in ("anonymous", "student", "other_instructor"):
        response = await world.clients[role].post(
            url, content=csv, headers={"Content-Type": "text/csv"}
        )
        answers[role] = response.status_code
        assert "roster-csv" not in response.text
    assert answers == {"anonymous": 401, "student": 403, "other_instructor": 404}
    # Even a file that is no roster: the class is not theirs, so nothing is said of the file.
    response = await world.other_instructor.post(url, content=b"not a roster")
    assert response.status_code == 404
    students = (await world.admin.get(f"{API}/students")).json()
    assert "roster-csv@example.org" not in {student["email"] for student in students}


async def test_an_instructor_enrolls_another_class_s_student_by_address(
    world: TwoClasses,
) -> None:
    other_email = world.other_student["email"]
    student_url = f"{API}/students/{world.other_student['id']}"
    assert (await world.instructor.get(student_url)).status_code == 404

    response = await world.instructor.post(
        f"{API}/classes/{world.own['id']}/roster", json=[{"email": other_email, "name": "New"}]
    )

    [row] = response.json()["results"]
    assert (row["outcome"], row["student_id"]) == ("enrolled", world.other_student["id"])
    student = (await world.instructor.get(student_url)).json()
    assert student["name"] == world.other_student["name"]
