import asyncio

import httpx

from tests.lms_factories import API, make_class, make_student


def roster_url(class_id: int) -> str:
    return f"{API}/classes/{class_id}/students"


async def test_enroll_then_enroll_again_is_idempotent(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    student = await make_student(client)

    first = await client.post(roster_url(class_["id"]), json={"student_id": student["id"]})
    assert first.status_code == 201
    enrollment = first.json()
    assert enrollment["student_id"] == student["id"]
    assert enrollment["class_id"] == class_["id"]
    assert enrollment["enrolled_at"].endswith("Z")

    again = await client.post(roster_url(class_["id"]), json={"student_id": student["id"]})
    assert again.status_code == 200
    assert again.json() == enrollment
    assert len((await client.get(roster_url(class_["id"]))).json()) == 1


async def test_concurrent_enrollments_give_one(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    student = await make_student(client)
    responses = await asyncio.gather(
        *(
            client.post(roster_url(class_["id"]), json={"student_id": student["id"]})
            for _ in range(6)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["enrolled_at"] for r in responses}) == 1


async def test_enroll_in_a_missing_class_is_404(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    response = await client.post(roster_url(999), json={"student_id": student["id"]})
    assert response.status_code == 404
    assert response.json()["detail"] == "class 999 does not exist"


async def test_enroll_a_missing_student_is_422(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    response = await client.post(roster_url(class_["id"]), json={"student_id": 999})
    assert response.status_code == 422
    assert response.json()["detail"] == "student 999 does not exist"


async def test_enroll_body_is_validated(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    for body in ({}, {"student_id": "abc"}, {"student_id": 0}, {"student_id": 2**40}):
        response = await client.post(roster_url(class_["id"]), json=body)
        assert response.status_code == 422, body


async def test_list_a_class_s_students_in_order_with_pagination(
    client: httpx.AsyncClient,
) -> None:
    class_ = await make_class(client)
    other_class = await make_class(client)
    students = [await make_student(client, name=f"S{i}") for i in range(4)]
    for student in reversed(students):
        await client.post(roster_url(class_["id"]), json={"student_id": student["id"]})
    await client.post(roster_url(other_class["id"]), json={"student_id": students[0]["id"]})

    roster = (await client.get(roster_url(class_["id"]))).json()
    assert [s["id"] for s in roster] == [s["id"] for s in students]
    assert roster[0]["email"] == students[0]["email"]
    assert roster[0]["enrolled_at"].endswith("Z")

    page = (await client.get(roster_url(class_["id"]), params={"skip": 1, "limit": 2})).json()
    assert [s["id"] for s in page] == [s["id"] for s in students[1:3]]
    assert (await client.get(roster_url(class_["id"]), params={"limit": 0})).status_code == 422
    assert (await client.get(roster_url(999))).status_code == 404


async def test_unenroll(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    student = await make_student(client)
    await client.post(roster_url(class_["id"]), json={"student_id": student["id"]})

    removed = await client.delete(f"{roster_url(class_['id'])}/{student['id']}")
    assert removed.status_code == 204
    assert removed.content == b""
    assert (await client.get(roster_url(class_["id"]))).json() == []

    again = await client.delete(f"{roster_url(class_['id'])}/{student['id']}")
    assert again.status_code == 404
    assert again.json()["detail"] == (
        f"student {student['id']} is not enrolled in class {class_['id']}"
    )
    assert (await client.delete(f"{roster_url(999)}/{student['id']}")).status_code == 404


async def test_a_student_s_classes(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    classes = [await make_class(client) for _ in range(3)]
    for class_ in (classes[2], classes[0]):
        await client.post(roster_url(class_["id"]), json={"student_id": student["id"]})

    response = await client.get(f"{API}/students/{student['id']}/classes")
    assert response.status_code == 200
    listed = response.json()
    assert [c["id"] for c in listed] == [classes[0]["id"], classes[2]["id"]]
    assert listed[0]["class_code"] == classes[0]["class_code"]
    assert "enrolled_at" in listed[0]

    page = await client.get(f"{API}/students/{student['id']}/classes", params={"skip": 1})
    assert [c["id"] for c in page.json()] == [classes[2]["id"]]
    missing = await client.get(f"{API}/students/999/classes")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "student 999 does not exist"
