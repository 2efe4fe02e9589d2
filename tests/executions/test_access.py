"""Who reads which executions: an admin all, an instructor those of its classes' students, a
student its own, nobody anonymous; a student one may not see is a missing one."""

from __future__ import annotations

import pytest

from tests.classroom.two_classes import TwoClasses

URL = "/api/v1/cell-executions"


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("admin", {"ann", "bob", "zed"}),
        ("teacher", {"ann", "bob"}),
        ("other_teacher", {"zed"}),
        ("ann", {"ann"}),
    ],
)
async def test_each_reader_sees_the_executions_of_the_students_it_may_see(
    two_classes: TwoClasses, who: str, visible: set[str]
) -> None:
    async with two_classes.as_(who) as http:
        response = await http.get(URL)
    assert response.status_code == 200
    expected = [
        event_id
        for student in sorted(visible)
        for event_id in two_classes.executions[getattr(two_classes, student)]
    ]
    assert [item["event_id"] for item in response.json()] == sorted(expected)


@pytest.mark.parametrize(
    ("who", "student", "status"),
    [
        ("admin", "zed", 200),
        ("teacher", "bob", 200),
        ("teacher", "zed", 404),
        ("other_teacher", "ann", 404),
        ("ann", "ann", 200),
        ("ann", "bob", 404),
    ],
)
async def test_a_student_one_may_not_see_is_a_missing_one(
    two_classes: TwoClasses, who: str, student: str, status: int
) -> None:
    student_id = getattr(two_classes, student)
    async with two_classes.as_(who) as http:
        response = await http.get(URL, params={"student_id": student_id})
        missing = await http.get(URL, params={"student_id": 999_999})
    assert response.status_code == status
    if status == 200:
        assert [item["event_id"] for item in response.json()] == two_classes.executions[student_id]
    else:
        assert response.json() == {"detail": f"student {student_id} does not exist"}
    assert missing.status_code == 404
    assert missing.json() == {"detail": "student 999999 does not exist"}


async def test_other_filters_narrow_only_what_the_reader_may_see(
    two_classes: TwoClasses,
) -> None:
    # Ann and zed both met an error; zed's class is not the teacher's.
    async with two_classes.as_("teacher") as http:
        errors = await http.get(URL, params={"status": "error"})
    async with two_classes.as_("admin") as http:
        all_errors = await http.get(URL, params={"status": "error"})
    assert [item["event_id"] for item in errors.json()] == ["ann-2"]
    assert [item["event_id"] for item in all_errors.json()] == ["ann-2", "zed-1"]


async def test_anonymous_reads_nothing(two_classes: TwoClasses) -> None:
    async with two_classes.as_("anonymous") as http:
        response = await http.get(URL)
        filtered = await http.get(URL, params={"student_id": two_classes.ann})
    assert response.status_code == 401
    assert filtered.status_code == 401
