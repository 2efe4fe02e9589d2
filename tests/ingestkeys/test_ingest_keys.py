"""Ingest keys over the API: who may create, list and revoke them, and what is kept."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.db.models import AuditEntry, IngestKey
from tests.accounts import add_instructor, create_account, signed_in
from tests.lms_factories import make_class


def keys_url(class_id: int) -> str:
    return f"/api/v1/classes/{class_id}/ingest-keys"


async def stored_keys(app: FastAPI) -> list[IngestKey]:
    async with app.state.database.sessions() as session:
        return list((await session.scalars(select(IngestKey).order_by(IngestKey.id))).all())


async def audit_entries(app: FastAPI) -> list[AuditEntry]:
    async with app.state.database.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("ingest_key.%")).order_by(AuditEntry.id)
        )
        return list(rows.all())


@pytest.fixture
async def class_id(client: httpx.AsyncClient) -> int:
    created: dict[str, Any] = await make_class(client)
    return int(created["id"])


async def test_admin_creates_a_key_shown_once_and_stored_as_its_hash(
    client: httpx.AsyncClient, app: FastAPI, class_id: int
) -> None:
    response = await client.post(keys_url(class_id), json={"label": "  Monday group "})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "key", "class_id", "created_at", "prefix", "label", "events_url"}
    key = body["key"]
    assert key.startswith("cmk_")
    assert len(key) >= 40
    assert body["class_id"] == class_id
    assert body["label"] == "Monday group"
    assert key.startswith(body["prefix"])
    assert len(body["prefix"]) < len(key)
    assert body["events_url"] == f"http://testserver/api/v1/events?key={key}"
    [stored] = await stored_keys(app)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == body["prefix"]

    listed = (await client.get(keys_url(class_id))).json()
    assert [item["id"] for item in listed] == [body["id"]]
    assert "key" not in listed[0]
    assert listed[0]["prefix"] == body["prefix"]
    assert listed[0]["revoked_at"] is None
    assert listed[0]["created_by"] is not None
    assert key not in (await client.get(keys_url(class_id))).text


async def test_a_body_is_optional_and_each_key_is_new(
    client: httpx.AsyncClient, class_id: int
) -> None:
    first = await client.post(keys_url(class_id))
    second = await client.post(keys_url(class_id), json={})
    assert first.status_code == second.status_code == 201
    assert first.json()["label"] is None
    assert first.json()["key"] != second.json()["key"]


@pytest.mark.parametrize("body", [{"label": ""}, {"label": "x" * 256}, {"lable": "typo"}])
async def test_a_bad_label_is_422(
    client: httpx.AsyncClient, class_id: int, body: dict[str, Any]
) -> None:
    assert (await client.post(keys_url(class_id), json=body)).status_code == 422


async def test_revoking_sets_revoked_at_and_again_is_harmless(
    client: httpx.AsyncClient, app: FastAPI, class_id: int
) -> None:
    key_id = (await client.post(keys_url(class_id))).json()["id"]
    assert (await client.delete(f"{keys_url(class_id)}/{key_id}")).status_code == 204
    [revoked] = (await client.get(keys_url(class_id))).json()
    assert revoked["revoked_at"] is not None
    again = await client.delete(f"{keys_url(class_id)}/{key_id}")
    assert again.status_code == 204
    assert (await client.get(keys_url(class_id))).json()[0]["revoked_at"] == revoked["revoked_at"]
    # One entry per change: the second revocation changed nothing.
    assert [entry.action for entry in await audit_entries(app)] == [
        "ingest_key.create",
        "ingest_key.revoke",
    ]


async def test_the_audit_trail_names_the_key_but_never_holds_it(
    client: httpx.AsyncClient, app: FastAPI, class_id: int
) -> None:
    created = (await client.post(keys_url(class_id), json={"label": "lab"})).json()
    await client.delete(f"{keys_url(class_id)}/{created['id']}")
    entries = await audit_entries(app)
    assert [(entry.action, entry.target_type, entry.target_id) for entry in entries] == [
        ("ingest_key.create", "ingest_key", created["id"]),
        ("ingest_key.revoke", "ingest_key", created["id"]),
    ]
    assert entries[0].detail == {"class_id": class_id, "prefix": created["prefix"], "label": "lab"}
    assert all(entry.actor_email == "admin@example.org" for entry in entries)
    for entry in entries:
        assert created["key"] not in str(entry.detail)


async def test_a_key_of_another_class_or_none_is_404(
    client: httpx.AsyncClient, class_id: int
) -> None:
    other = (await make_class(client))["id"]
    key_id = (await client.post(keys_url(other))).json()["id"]
    assert (await client.delete(f"{keys_url(class_id)}/{key_id}")).status_code == 404
    assert (await client.delete(f"{keys_url(class_id)}/999999")).status_code == 404
    assert (await client.post(keys_url(999999))).status_code == 404


async def test_the_classs_instructor_manages_its_keys(
    client: httpx.AsyncClient, app: FastAPI, class_id: int
) -> None:
    teacher = await create_account(app, "teacher@example.org", "instructor")
    await add_instructor(app, class_id, teacher.id)
    async with signed_in(app, teacher) as http:
        created = await http.post(keys_url(class_id))
        assert created.status_code == 201
        listed = await http.get(keys_url(class_id))
        assert [item["created_by"] for item in listed.json()] == [teacher.id]
        revoked = await http.delete(f"{keys_url(class_id)}/{created.json()['id']}")
        assert revoked.status_code == 204


async def test_another_instructor_finds_no_such_class(
    client: httpx.AsyncClient, app: FastAPI, class_id: int
) -> None:
    key_id = (await client.post(keys_url(class_id))).json()["id"]
    stranger = await create_account(app, "stranger@example.org", "instructor")
    async with signed_in(app, stranger) as http:
        assert (await http.post(keys_url(class_id))).status_code == 404
        assert (await http.get(keys_url(class_id))).status_code == 404
        assert (await http.delete(f"{keys_url(class_id)}/{key_id}")).status_code == 404
    assert len(await stored_keys(app)) == 1
    assert (await stored_keys(app))[0].revoked_at is None


async def test_a_student_is_refused(client: httpx.AsyncClient, app: FastAPI, class_id: int) -> None:
    key_id = (await client.post(keys_url(class_id))).json()["id"]
    student = await create_account(app, "pupil@example.org", "student")
    async with signed_in(app, student) as http:
        assert (await http.post(keys_url(class_id))).status_code == 403
        assert (await http.get(keys_url(class_id))).status_code == 403
        assert (await http.delete(f"{keys_url(class_id)}/{key_id}")).status_code == 403


async def test_nobody_signed_in_is_401(
    client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient, class_id: int
) -> None:
    key_id = (await client.post(keys_url(class_id))).json()["id"]
    assert (await anonymous_client.post(keys_url(class_id))).status_code == 401
    assert (await anonymous_client.get(keys_url(class_id))).status_code == 401
    assert (await anonymous_client.delete(f"{keys_url(class_id)}/{key_id}")).status_code == 401
