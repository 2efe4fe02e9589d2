"""Submissions: the class's instructors and admins submit, read, grade and delete them; a
student account submits its own work to its classes' assignments and reads its own."""

from typing import Any

from tests.accounts import create_account, signed_in
from tests.lms_factories import (
    API,
    NOTEBOOK,
    TwoClasses,
    audit_entries,
    enroll,
    make_assignment,
    make_student,
)

SUBMISSIONS = f"{API}/submissions"
DENIED_WRITE = {"other_instructor": 404, "student": 403, "anonymous": 401}
DENIED_WRITE_ROLES = tuple(DENIED_WRITE)


def submission_of(assignment: dict[str, Any], student: dict[str, Any]) -> dict[str, Any]:
    return {
        "assignment_id": assignment["id"],
        "student_id": student["id"],
        "notebook_content": NOTEBOOK,
    }


async def own_submission(world: TwoClasses) -> dict[str, Any]:
    """The student account's submission to an assignment of its class."""
    assignment = await make_assignment(world.instructor, world.own["id"])
    response = await world.student.post(
        SUBMISSIONS, json=submission_of(assignment, world.own_student)
    )
    assert response.status_code == 201, response.text
    submission: dict[str, Any] = response.json()
    return submission


async def test_a_student_submits_its_own_work(world: TwoClasses) -> None:
    submission = await own_submission(world)
    assert submission["student_id"] == world.own_student["id"]
    assert submission["status"] == "submitted"
    assert submission["grade"] is None


async def test_a_student_submits_for_nobody_else_and_to_no_other_class(
    world: TwoClasses,
) -> None:
    own_assignment = await make_assignment(world.instructor, world.own["id"])
    other_assignment = await make_assignment(world.other_instructor, world.other["id"])
    classmate = await make_student(world.admin)
    await enroll(world.instructor, world.own["id"], classmate["id"])

    for_classmate = await world.student.post(
        SUBMISSIONS, json=submission_of(own_assignment, classmate)
    )
    assert for_classmate.status_code == 422
    assert for_classmate.json()["detail"] == f"student {classmate['id']} does not exist"

    to_other_class = await world.student.post(
        SUBMISSIONS, json=submission_of(other_assignment, world.own_student)
    )
    assert to_other_class.status_code == 422
    assert to_other_class.json()["detail"] == f"assignment {other_assignment['id']} does not exist"

    graded = {**submission_of(own_assignment, world.own_student), "grade": 10}
    assert (await world.student.post(SUBMISSIONS, json=graded)).status_code == 422
    dated = {**submission_of(own_assignment, world.own_student), "submitted_at": "2020-01-01"}
    backdated = await world.student.post(SUBMISSIONS, json=dated)
    assert backdated.status_code == 403
    assert "submitted_at" in backdated.json()["detail"]
    assert (await world.admin.get(SUBMISSIONS)).json() == []


async def test_an_instructor_submits_only_to_its_classes_for_its_students(
    world: TwoClasses,
) -> None:
    own_assignment = await make_assignment(world.instructor, world.own["id"])
    other_assignment = await make_assignment(world.other_instructor, world.other["id"])

    foreign = await world.instructor.post(
        SUBMISSIONS, json=submission_of(other_assignment, world.other_student)
    )
    assert foreign.status_code == 422
    assert foreign.json()["detail"] == (
        f"assignment {other_assignment['id']} and student {world.other_student['id']} do not exist"
    )
    body = submission_of(own_assignment, world.own_student)
    assert (await world.anonymous.post(SUBMISSIONS, json=body)).status_code == 401
    assert (await world.instructor.post(SUBMISSIONS, json=body)).status_code == 201


async def test_reading_submissions(world: TwoClasses) -> None:
    submission = await own_submission(world)
    classmate = await make_student(world.admin)
    await enroll(world.instructor, world.own["id"], classmate["id"])
    classmates = await world.instructor.post(
        SUBMISSIONS,
        json=submission_of({"id": submission["assignment_id"]}, classmate),
    )
    assert classmates.status_code == 201

    assert await world.statuses("GET", f"/submissions/{submission['id']}") == {
        "admin": 200,
        "instructor": 200,
        "other_instructor": 404,
        "student": 200,
        "anonymous": 401,
    }
    hidden = await world.student.get(f"{SUBMISSIONS}/{classmates.json()['id']}")
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == f"submission {classmates.json()['id']} does not exist"

    seen = {}
    for role, http in world.clients.items():
        response = await http.get(SUBMISSIONS)
        seen[role] = [s["id"] for s in response.json()] if response.status_code == 200 else None
    both = [submission["id"], classmates.json()["id"]]
    assert seen == {
        "admin": both,
        "instructor": both,
        "other_instructor": [],
        "student": [submission["id"]],
        "anonymous": None,
    }


async def test_only_the_class_s_instructors_grade_and_every_grade_is_audited(
    world: TwoClasses,
) -> None:
    submission = await own_submission(world)
    path = f"/submissions/{submission['id']}"
    for method in ("PUT", "PATCH"):
        denied = await world.statuses(method, path, {"grade": 10}, DENIED_WRITE_ROLES)
        assert denied == DENIED_WRITE, method
    assert await world.statuses("PATCH", path, {"status": "returned"}, ("student",)) == {
        "student": 403
    }
    assert (await world.admin.get(f"{API}{path}")).json()["grade"] is None

    assert (await world.instructor.patch(f"{API}{path}", json={"grade": 7})).status_code == 200
    assert (await world.instructor.patch(f"{API}{path}", json={"grade": 7})).status_code == 200
    assert (await world.admin.patch(f"{API}{path}", json={"grade": 9.5})).status_code == 200

    [first] = await audit_entries(world.admin, "submission.grade")
    assert first["actor_id"] == world.users["instructor"].id
    assert first["target_type"] == "submission"
    assert first["target_id"] == submission["id"]
    assert first["detail"] == {
        "assignment_id": submission["assignment_id"],
        "student_id": world.own_student["id"],
        "grade": 7,
        "old_grade": None,
    }
    # The same grade again changes nothing and is not recorded.
    [regrade] = await audit_entries(world.admin, "submission.regrade")
    assert regrade["actor_email"] == "admin@example.org"
    assert regrade["detail"]["grade"] == 9.5
    assert regrade["detail"]["old_grade"] == 7


async def test_only_the_class_s_instructors_delete_a_submission_and_it_is_audited(
    world: TwoClasses,
) -> None:
    submission = await own_submission(world)
    path = f"/submissions/{submission['id']}"
    assert await world.statuses("DELETE", path, roles=DENIED_WRITE_ROLES) == DENIED_WRITE
    assert await audit_entries(world.admin, "submission.delete") == []
    assert (await world.instructor.delete(f"{API}{path}")).status_code == 200
    [entry] = await audit_entries(world.admin, "submission.delete")
    assert entry["actor_id"] == world.users["instructor"].id
    assert entry["target_id"] == submission["id"]
    assert entry["detail"] == {
        "assignment_id": submission["assignment_id"],
        "student_id": world.own_student["id"],
        "grade": None,
    }


async def test_a_student_account_without_a_student_record_submits_nothing(
    world: TwoClasses,
) -> None:
    assignment = await make_assignment(world.instructor, world.own["id"])
    newcomer = await create_account(world.app, "newcomer@example.com", "student")
    async with signed_in(world.app, newcomer) as http:
        refused = await http.post(SUBMISSIONS, json=submission_of(assignment, world.own_student))
        assert refused.status_code == 422
        assert (await http.get(SUBMISSIONS)).json() == []
