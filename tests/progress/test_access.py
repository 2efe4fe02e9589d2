"""Who reads a student's progress: the student's instructors, the student itself and admins;
for anyone else the student does not exist."""

from __future__ import annotations

import pytest

from tests.classroom.two_classes import TwoClasses


@pytest.mark.parametrize(
    ("who", "student", "status"),
    [
        ("admin", "zed", 200),
        ("teacher", "ann", 200),
        ("teacher", "bob", 200),
        ("teacher", "zed", 404),
        ("other_teacher", "zed", 200),
        ("other_teacher", "ann", 404),
        ("ann", "ann", 200),
        ("ann", "bob", 404),
        ("anonymous", "ann", 401),
    ],
)
async def test_progress_is_for_the_students_instructors_and_itself(
    two_classes: TwoClasses, who: str, student: str, status: int
) -> None:
    student_id = getattr(two_classes, student)
    async with two_classes.as_(who) as http:
        response = await http.get(f"/api/v1/progress/students/{student_id}")
    assert response.status_code == status
    if status == 200:
        assert response.json()["student_id"] == student_id
        assert response.json()["email"] == f"{student}@example.com"
    elif status == 404:
        # Word for word what a missing student answers.
        assert response.json() == {"detail": f"student {student_id} does not exist"}
