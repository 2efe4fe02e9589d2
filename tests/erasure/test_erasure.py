"""Erasing a student on SQLite and PostgreSQL, with the embedded time series."""

from __future__ import annotations

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.db.models import AuditEntry
from tests.accounts import create_account, signed_in
from tests.erasure.records import (
    ALICE,
    ALICE_NAME,
    BOB,
    add_the_rest,
    post_events,
    sql_records,
    student_id,
)
from tests.lms_factories import API

# What the answer counts, and what `sql_records` counts under the same name.
REPORTED = (
    "students",
    "sessions",
    "cell_executions",
    "cell_states",
    "notebook_accesses",
    "progress_events",
    "enrollments",
    "submissions",
    "accounts",
    "dead_letters",
    "test_events",
    "timeseries_points",
)


async def two_students(app: FastAPI, client: httpx.AsyncClient) -> tuple[int, int]:
    await post_events(app, client, "1")
    await post_events(app, client, "2")
    await add_the_rest(app, client)
    return await student_id(app, ALICE), await student_id(app, BOB)


async def test_erasing_a_student_deletes_everything_of_theirs_and_nothing_else(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice, bob = await two_students(app, client)
    alice_before = await sql_records(app, alice, ALICE)
    bob_before = await sql_records(app, bob, BOB)
    assert all(alice_before.values()), alice_before  # every kind is there to be erased

    response = await client.delete(f"{API}/students/{alice}")

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["complete"] is True
    assert report["timeseries"] == "deleted"
    assert {kind: report["deleted"][kind] for kind in REPORTED} == {
        kind: alice_before[kind] for kind in REPORTED
    }
    assert report["deleted"]["audit_entries_unnamed"] == 1
    assert all(count == 0 for count in (await sql_records(app, alice, ALICE)).values())
    assert await sql_records(app, bob, BOB) == bob_before
    assert (await client.get(f"{API}/students/{alice}")).status_code == 404


async def test_the_audit_trail_keeps_the_erasure_but_not_the_address(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice, _bob = await two_students(app, client)
    report = (await client.delete(f"{API}/students/{alice}")).json()

    async with app.state.database.sessions() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    erase = [entry for entry in entries if entry.action == "student.erase"]
    assert len(erase) == 1
    assert (erase[0].target_type, erase[0].target_id) == ("student", alice)
    assert erase[0].detail["cell_executions"] == report["deleted"]["cell_executions"]
    timeseries = [entry for entry in entries if entry.action == "student.erase_timeseries"]
    assert timeseries[0].detail["deleted"] is True
    assert timeseries[0].detail["timeseries_points"] == report["deleted"]["timeseries_points"]
    trail = orjson.dumps(
        [(entry.actor_email, entry.detail) for entry in entries], default=str
    ).decode()
    assert ALICE not in trail.lower()
    assert ALICE_NAME not in trail
    assert BOB in trail  # the other student's own entry keeps its actor


async def test_a_missing_student_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{API}/students/4242")
    assert response.status_code == 404
    assert response.json() == {"detail": "No student with this id."}
    with_email = await client.delete(f"{API}/students/4242", params={"email": ALICE})
    assert with_email.status_code == 404  # never erased: an address does not make it one


async def test_an_address_that_is_not_the_students_is_a_422(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice, _bob = await two_students(app, client)
    response = await client.delete(f"{API}/students/{alice}", params={"email": BOB})
    assert response.status_code == 422
    assert "email" in response.json()["detail"]
    assert (await sql_records(app, alice, ALICE))["students"] == 1
    # The student's own address, in any case, is accepted.
    accepted = await client.delete(
        f"{API}/students/{alice}", params={"email": " Alice@Example.COM "}
    )
    assert accepted.status_code == 200, accepted.text


async def test_a_repeat_is_told_to_name_the_address_and_then_finds_nothing_left(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice, bob = await two_students(app, client)
    bob_before = await sql_records(app, bob, BOB)
    assert (await client.delete(f"{API}/students/{alice}")).status_code == 200

    bare = await client.delete(f"{API}/students/{alice}")
    assert bare.status_code == 404
    assert "?email=" in bare.json()["detail"]
    repeat = await client.delete(f"{API}/students/{alice}", params={"email": ALICE})
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["complete"] is True
    counts = repeat.json()["deleted"]
    assert all(not counts[kind] for kind in REPORTED), counts
    assert await sql_records(app, bob, BOB) == bob_before


async def test_a_repeat_for_an_address_recreated_since_names_the_new_student(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice, _bob = await two_students(app, client)
    assert (await client.delete(f"{API}/students/{alice}")).status_code == 200
    await post_events(app, client, "late")  # the student's JupyterLab goes on sending
    recreated = await student_id(app, ALICE)

    response = await client.delete(f"{API}/students/{alice}", params={"email": ALICE})

    assert response.status_code == 409
    assert f"erase student {recreated}" in response.json()["detail"]


async def test_only_admins_may_erase(app: FastAPI, client: httpx.AsyncClient) -> None:
    alice, _bob = await two_students(app, client)
    instructor = await create_account(app, "teacher@example.org", "instructor")
    student = await create_account(app, "someone@example.org", "student")
    for user in (instructor, student):
        async with signed_in(app, user) as http:
            assert (await http.delete(f"{API}/students/{alice}")).status_code == 403
    async with signed_in(app, None) as anonymous:
        assert (await anonymous.delete(f"{API}/students/{alice}")).status_code == 401
    assert (await sql_records(app, alice, ALICE))["students"] == 1
