import httpx
import pytest

from tests.lms_factories import API, make_student

STUDENTS = f"{API}/students"


async def test_create_normalizes_email_and_answers_every_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        STUDENTS,
        json={
            "email": "  Student001@Example.COM ",
            "name": "テスト学生001",
            "team_name": "チームA",
        },
    )
    assert response.status_code == 201
    student = response.json()
    assert student["email"] == "student001@example.com"
    assert student["name"] == "テスト学生001"
    assert student["team_name"] == "チームA"
    assert student["last_activity_at"] is None
    assert student["help_active"] is False
    assert set(student) == {
        "id",
        "email",
        "name",
        "team_name",
        "created_at",
        "updated_at",
        "last_activity_at",
        "help_active",
    }
    assert (await client.get(f"{STUDENTS}/{student['id']}")).json() == student


async def test_duplicate_email_is_409_whatever_its_case(client: httpx.AsyncClient) -> None:
    await make_student(client, email="dup@example.com")
    response = await client.post(STUDENTS, json={"email": "DUP@example.com"})
    assert response.status_code == 409
    assert "dup@example.com" in response.json()["detail"]


@pytest.mark.parametrize(
    "email",
    ["", "plain", "no-at.example.com", "a@b", "two@@example.com", "sp ace@example.com", "a@b."],
)
async def test_not_an_email_is_422(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(STUDENTS, json={"email": email})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]


async def test_readonly_and_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(STUDENTS, json={"email": "a@example.com", "help_active": True})
    assert response.status_code == 422


async def test_list_filters_and_order(client: httpx.AsyncClient) -> None:
    a = await make_student(client, team_name="チームA")
    b = await make_student(client, email="Mixed@Example.com", team_name="チームB")
    c = await make_student(client, team_name="チームA")

    everyone = (await client.get(STUDENTS)).json()
    assert [s["id"] for s in everyone] == [a["id"], b["id"], c["id"]]

    by_email = (await client.get(STUDENTS, params={"email": " MIXED@example.COM"})).json()
    assert [s["id"] for s in by_email] == [b["id"]]
    assert (await client.get(STUDENTS, params={"email": "nobody@example.com"})).json() == []

    team = (await client.get(STUDENTS, params={"team_name": "チームA"})).json()
    assert [s["id"] for s in team] == [a["id"], c["id"]]

    page = (await client.get(STUDENTS, params={"team_name": "チームA", "skip": 1})).json()
    assert [s["id"] for s in page] == [c["id"]]
    assert (await client.get(STUDENTS, params={"limit": 501})).status_code == 422
    assert (await client.get(STUDENTS, params={"email": "a\x00@x.com"})).status_code == 422


async def test_get_missing_student_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{STUDENTS}/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "student 999 does not exist"}
    assert (await client.get(f"{STUDENTS}/me")).status_code == 422


async def test_patch_name_and_team(client: httpx.AsyncClient) -> None:
    student = await make_student(client, name="Old", team_name="T1")
    response = await client.patch(f"{STUDENTS}/{student['id']}", json={"team_name": " T2 "})
    assert response.status_code == 200
    assert response.json()["team_name"] == "T2"
    assert response.json()["name"] == "Old"

    cleared = await client.patch(f"{STUDENTS}/{student['id']}", json={"name": None})
    assert cleared.json()["name"] is None
    assert (await client.get(f"{STUDENTS}/{student['id']}")).json()["name"] is None

    email_change = await client.patch(f"{STUDENTS}/{student['id']}", json={"email": "x@y.com"})
    assert email_change.status_code == 422
    assert (await client.patch(f"{STUDENTS}/999", json={"name": "x"})).status_code == 404
