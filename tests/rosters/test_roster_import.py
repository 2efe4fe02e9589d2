"""Enrolling a roster in one request: created, enrolled, already enrolled or an error per row."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from cellmon.rosters.schemas import MAX_ROSTER_ROWS
from tests.lms_factories import API, audit_entries, make_class, make_student


def roster_url(class_id: int, *, csv: bool = False) -> str:
    return f"{API}/classes/{class_id}/roster" + ("/csv" if csv else "")


async def post_csv(
    client: httpx.AsyncClient, class_id: int, text: str, content_type: str = "text/csv"
) -> httpx.Response:
    return await client.post(
        roster_url(class_id, csv=True),
        content=text.encode(),
        headers={"Content-Type": content_type},
    )


async def enrolled_emails(client: httpx.AsyncClient, class_id: int) -> list[str]:
    response = await client.get(f"{API}/classes/{class_id}/students", params={"limit": 500})
    return sorted(student["email"] for student in response.json())


def outcomes(report: dict[str, Any]) -> list[tuple[int, str | None, str]]:
    return [(row["row"], row["email"], row["outcome"]) for row in report["results"]]


async def test_a_json_roster_creates_enrolls_and_reports_each_row(
    client: httpx.AsyncClient,
) -> None:
    class_ = await make_class(client)
    existing = await make_student(client, email="old@example.org", name="Kept", team_name="T0")
    enrolled = await make_student(client, email="in@example.org")
    await client.post(f"{API}/classes/{class_['id']}/students", json={"student_id": enrolled["id"]})
    roster = [
        {"email": "  New@Example.org ", "name": "テスト学生001", "team_name": "チームA"},
        {"email": "old@example.org", "name": "Renamed", "team_name": "T9"},
        {"email": "in@example.org"},
        {"email": "not-an-address"},
        {"email": "new@example.org"},
        {"email": " "},
        {"email": "long@example.org", "name": "x" * 256},
        {"email": "blank-name@example.org", "name": "  ", "team_name": ""},
    ]

    response = await client.post(roster_url(class_["id"]), json=roster)

    assert response.status_code == 200, response.text
    report = response.json()
    assert outcomes(report) == [
        (1, "new@example.org", "created"),
        (2, "old@example.org", "enrolled"),
        (3, "in@example.org", "already_enrolled"),
        (4, "not-an-address", "error"),
        (5, "new@example.org", "error"),
        (6, " ", "error"),
        (7, "long@example.org", "error"),
        (8, "blank-name@example.org", "created"),
    ]
    errors = {row["row"]: row["error"] for row in report["results"] if row["error"]}
    assert errors == {
        4: "email: is not an e-mail address",
        5: "the same e-mail address as row 1",
        6: "no e-mail address",
        7: "name: String should have at most 255 characters",
    }
    assert {k: report[k] for k in ("rows", "created", "enrolled", "already_enrolled")} == {
        "rows": 8,
        "created": 2,
        "enrolled": 1,
        "already_enrolled": 1,
    }
    assert (report["errors"], report["changed"], report["ignored_columns"]) == (4, True, [])
    assert report["results"][1]["student_id"] == existing["id"]
    assert await enrolled_emails(client, class_["id"]) == [
        "blank-name@example.org",
        "in@example.org",
        "new@example.org",
        "old@example.org",
    ]
    students = {s["email"]: s for s in (await client.get(f"{API}/students")).json()}
    assert (students["new@example.org"]["name"], students["new@example.org"]["team_name"]) == (
        "テスト学生001",
        "チームA",
    )
    # An existing student is enrolled as it is.
    assert (students["old@example.org"]["name"], students["old@example.org"]["team_name"]) == (
        "Kept",
        "T0",
    )
    assert students["blank-name@example.org"]["name"] is None


async def test_importing_the_same_roster_again_changes_nothing_and_says_so(
    client: httpx.AsyncClient,
) -> None:
    class_ = await make_class(client)
    roster = [{"email": f"s{n}@example.org", "name": f"S{n}"} for n in range(5)]
    first = (await client.post(roster_url(class_["id"]), json=roster)).json()
    students_before = (await client.get(f"{API}/students")).json()

    again = await client.post(roster_url(class_["id"]), json=roster)

    assert again.status_code == 200
    report = again.json()
    assert (report["created"], report["enrolled"], report["already_enrolled"]) == (0, 0, 5)
    assert report["changed"] is False
    assert [row["student_id"] for row in report["results"]] == [
        row["student_id"] for row in first["results"]
    ]
    assert (await client.get(f"{API}/students")).json() == students_before


async def test_a_csv_roster_from_an_lms(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    text = (
        "\ufeff学籍番号,姓,名,メールアドレス,グループ\r\n"
        "A1001,山田,太郎,Taro@Example.jp,チームA\r\n"
        "\r\n"
        "A1002,鈴木,花子,hanako@example.jp,\r\n"
        "A1003,佐藤,次郎,not-an-address,チームB\r\n"
    )

    response = await post_csv(client, class_["id"], text, "text/csv; charset=utf-8")

    assert response.status_code == 200, response.text
    report = response.json()
    assert outcomes(report) == [
        (2, "taro@example.jp", "created"),
        (4, "hanako@example.jp", "created"),
        (5, "not-an-address", "error"),
    ]
    assert report["ignored_columns"] == ["学籍番号"]
    students = {s["email"]: s for s in (await client.get(f"{API}/students")).json()}
    assert students["taro@example.jp"]["name"] == "山田 太郎"
    assert students["taro@example.jp"]["team_name"] == "チームA"
    assert students["hanako@example.jp"]["team_name"] is None
    # The same students as JSON: nothing left to do.
    again = await client.post(
        roster_url(class_["id"]),
        json=[{"email": "taro@example.jp"}, {"email": "HANAKO@example.jp"}],
    )
    assert [row["outcome"] for row in again.json()["results"]] == ["already_enrolled"] * 2


async def test_a_csv_in_the_charset_its_content_type_names(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    response = await client.post(
        roster_url(class_["id"], csv=True),
        content="氏名;メール\n田中 一郎;ichiro@example.jp\n".encode("shift_jis"),
        headers={"Content-Type": "text/csv; charset=Shift_JIS"},
    )
    assert response.status_code == 200, response.text
    assert outcomes(response.json()) == [(2, "ichiro@example.jp", "created")]


async def test_a_file_that_is_no_roster_is_a_422_saying_why(client: httpx.AsyncClient) -> None:
    class_ = await make_class(client)
    for text, content_type, detail in (
        ("", "text/csv", "the file is empty"),
        ("name,team\nA,B\n", "text/csv", "names no e-mail column (found 'name', 'team')"),
        ("email\n", "text/csv; charset=base64", "'base64' in Content-Type is not a text"),
    ):
        response = await post_csv(client, class_["id"], text, content_type)
        assert response.status_code == 422, response.text
        assert detail in response.json()["detail"]
    response = await client.post(
        roster_url(class_["id"], csv=True), content=b"email\n\xff\xfe\n", headers={}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("the file is not UTF-8 text (byte 6)")
    assert await enrolled_emails(client, class_["id"]) == []


async def test_more_rows_than_one_import_takes_is_a_413_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    class_ = await make_class(client)
    roster = [{"email": f"s{n}@example.org"} for n in range(MAX_ROSTER_ROWS + 1)]

    response = await client.post(roster_url(class_["id"]), json=roster)

    assert response.status_code == 413
    assert response.json()["detail"].startswith("the roster has more than 5,000 rows")
    text = "email\n" + "".join(f"{row['email']}\n" for row in roster)
    response = await post_csv(client, class_["id"], text)
    assert response.status_code == 413
    assert await enrolled_emails(client, class_["id"]) == []
    assert len((await client.get(f"{API}/students")).json()) == 0
    # The largest roster one import takes.
    response = await client.post(roster_url(class_["id"]), json=roster[:MAX_ROSTER_ROWS])
    assert response.status_code == 200
    assert response.json()["created"] == MAX_ROSTER_ROWS


async def test_a_roster_for_a_class_that_does_not_exist_is_a_404(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(roster_url(999), json=[{"email": "a@example.org"}])
    assert response.status_code == 404
    assert response.json()["detail"] == "class 999 does not exist"
    assert (await post_csv(client, 999, "email\na@example.org\n")).status_code == 404
    assert (await client.get(f"{API}/students")).json() == []


@contextmanager
def counted_statements(app: FastAPI) -> Iterator[list[str]]:
    """The statements the app sends meanwhile, but the in-process worker's polls."""
    statements: list[str] = []
    engine = app.state.database.engine.sync_engine

    def count(*args: Any) -> None:
        if "queue_entries" not in args[2]:
            statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_an_import_takes_as_many_statements_for_2000_rows_as_for_20(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    counts = []
    for size in (20, 2000):
        class_ = await make_class(client)
        half = size // 2
        first = [{"email": f"{size}-{n}@example.org"} for n in range(half)]
        await client.post(roster_url(class_["id"]), json=first)
        roster = first + [{"email": f"{size}-{n}@example.org"} for n in range(half, size)]
        with counted_statements(app) as statements:
            response = await client.post(roster_url(class_["id"]), json=roster)
        assert response.json()["created"] == size - half
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 12, counts


async def test_concurrent_imports_create_and_enroll_each_student_once(
    client: httpx.AsyncClient,
) -> None:
    class_ = await make_class(client)
    roster = [{"email": f"c{n}@example.org"} for n in range(50)]

    answers = await asyncio.gather(
        *(client.post(roster_url(class_["id"]), json=roster) for _ in range(3))
    )

    assert [answer.status_code for answer in answers] == [200] * 3
    reports = [answer.json() for answer in answers]
    assert sum(report["created"] for report in reports) == 50
    assert sum(report["created"] + report["enrolled"] for report in reports) == 50
    assert len(await enrolled_emails(client, class_["id"])) == 50
    ids = {tuple(row["student_id"] for row in report["results"]) for report in reports}
    assert len(ids) == 1


async def test_an_import_that_changed_something_is_audited_with_counts_only(
    client: httpx.AsyncClient,
) -> None:
    class_ = await make_class(client)
    await post_csv(client, class_["id"], "email\na@example.org\nbad\n")
    await post_csv(client, class_["id"], "email\na@example.org\n")

    [entry] = await audit_entries(client, "class.roster_import")

    assert (entry["target_type"], entry["target_id"]) == ("class", class_["id"])
    assert entry["detail"] == {"source": "csv", "rows": 2, "created": 1, "enrolled": 0, "errors": 1}
    assert "a@example.org" not in str(entry)
