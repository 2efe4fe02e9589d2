"""Every route of the OpenAPI document, asked by each kind of caller.

The world: class A taught by `instructor`, class B taught by `outsider`; student S1 (with a
student account) enrolled in A, student S2 enrolled in B; an assignment, a submission and
executions in each. Each route is asked about A's objects by anonymous, S1's account, the
outsider, A's instructor and an admin, and must answer as its rule says. Beyond the status,
no answer to the outsider may hold anything of A (its class code, S1's address), and no answer
to S1 anything of B or S2.

A route that has no rule here fails the suite: a new route must say who may call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cellmon.app import create_app
from cellmon.db.models import User
from tests.accounts import TEST_PASSWORD, add_instructor, create_account, signed_in
from tests.events.helpers import drain, execution
from tests.services import make_settings

ROLES = ("anonymous", "student", "outsider", "instructor", "admin")
OK = "ok"  # an answer that is not 401, 403 or 404
DENIED = "denied"  # 403 or 404: refused without saying more
REFUSALS = {401, 403, 404}

CLASS_A_CODE = "SECRET-CLASS-A"
CLASS_B_CODE = "SECRET-CLASS-B"
S1_EMAIL = "s1-secret@example.org"
S2_EMAIL = "s2-secret@example.org"


def rule(**answers: object) -> dict[str, object]:
    missing = set(ROLES) - set(answers)
    assert not missing, f"a rule names every role: {missing}"
    return answers


OPEN = rule(anonymous=OK, student=OK, outsider=OK, instructor=OK, admin=OK)
SIGNED_IN = rule(anonymous=401, student=OK, outsider=OK, instructor=OK, admin=OK)
STAFF = rule(anonymous=401, student=403, outsider=OK, instructor=OK, admin=OK)
ADMIN = rule(anonymous=401, student=403, outsider=403, instructor=403, admin=OK)
# Class A's teaching staff (and admins) only.
TEACHES_A = rule(anonymous=401, student=DENIED, outsider=404, instructor=OK, admin=OK)
# Also S1, who is enrolled in A (its class, its assignments, its own records).
READS_A = rule(anonymous=401, student=OK, outsider=404, instructor=OK, admin=OK)
# A's objects named in the body, not the path: a reference the caller may not see is
# refused like a missing one, with 422.
TEACHES_A_IN_BODY = rule(anonymous=401, student=403, outsider=422, instructor=OK, admin=OK)
SUBMITS_TO_A = rule(anonymous=401, student=OK, outsider=422, instructor=OK, admin=OK)

RULES: dict[tuple[str, str], dict[str, object]] = {
    # Open: no data in them.
    ("GET", "/health"): OPEN,
    ("GET", "/ready"): OPEN,
    ("GET", "/metrics"): OPEN,  # no personal data; CELLMON_METRICS_TOKEN closes it
    ("GET", "/api/v1/live/protocol"): OPEN,
    ("POST", "/api/v1/auth/token"): OPEN,
    ("POST", "/api/v1/auth/session"): OPEN,
    # The extension's route: open in development, by key in production (tests/events).
    ("POST", "/api/v1/events"): OPEN,
    # The test-event API: open in development, admins' in production (tests/testevents).
    ("GET", "/api/v1/test/events"): OPEN,
    ("POST", "/api/v1/test/events/{test_id}"): OPEN,
    ("GET", "/api/v1/test/events/{test_id}"): OPEN,
    ("DELETE", "/api/v1/test/events/{test_id}"): OPEN,
    # One's own account.
    ("POST", "/api/v1/auth/refresh"): SIGNED_IN,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("POST", "/api/v1/auth/password"): SIGNED_IN,
    ("GET", "/api/v1/users/me"): SIGNED_IN,
    # Accounts, the audit trail, broadcasts, the hub's counters, erasure: admins.
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{user_id}"): ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    ("POST", "/api/v1/broadcast"): ADMIN,
    ("GET", "/api/v1/live/stats"): ADMIN,
    ("DELETE", "/api/v1/students/{student_id}"): ADMIN,
    # Classes.
    ("POST", "/api/v1/classes"): STAFF,
    ("GET", "/api/v1/classes"): SIGNED_IN,
    ("GET", "/api/v1/classes/{class_id}"): READS_A,
    ("PUT", "/api/v1/classes/{class_id}"): TEACHES_A,
    ("PATCH", "/api/v1/classes/{class_id}"): TEACHES_A,
    ("DELETE", "/api/v1/classes/{class_id}"): TEACHES_A,
    ("POST", "/api/v1/classes/{class_id}/students"): TEACHES_A,
    ("GET", "/api/v1/classes/{class_id}/students"): TEACHES_A,
    ("DELETE", "/api/v1/classes/{class_id}/students/{student_id}"): TEACHES_A,
    ("POST", "/api/v1/classes/{class_id}/roster"): TEACHES_A,
    ("POST", "/api/v1/classes/{class_id}/roster/csv"): TEACHES_A,
    ("GET", "/api/v1/classes/{class_id}/instructors"): TEACHES_A,
    ("POST", "/api/v1/classes/{class_id}/instructors"): TEACHES_A,
    ("DELETE", "/api/v1/classes/{class_id}/instructors/{user_id}"): TEACHES_A,
    ("POST", "/api/v1/classes/{class_id}/ingest-keys"): TEACHES_A,
    ("GET", "/api/v1/classes/{class_id}/ingest-keys"): TEACHES_A,
    ("DELETE", "/api/v1/classes/{class_id}/ingest-keys/{key_id}"): TEACHES_A,
    # Students and what was recorded about them.
    ("POST", "/api/v1/students"): STAFF,
    ("GET", "/api/v1/students"): SIGNED_IN,
    ("GET", "/api/v1/students/{student_id}"): READS_A,
    ("PATCH", "/api/v1/students/{student_id}"): TEACHES_A,
    ("GET", "/api/v1/students/{student_id}/classes"): READS_A,
    ("GET", "/api/v1/cell-executions"): SIGNED_IN,
    ("GET", "/api/v1/progress/students/{student_id}"): READS_A,
    # Notebooks hold paths only.
    ("POST", "/api/v1/notebooks"): STAFF,
    ("GET", "/api/v1/notebooks"): SIGNED_IN,
    ("GET", "/api/v1/notebooks/{notebook_id}"): SIGNED_IN,
    # Assignments and submissions.
    ("POST", "/api/v1/assignments"): TEACHES_A_IN_BODY,
    ("GET", "/api/v1/assignments"): SIGNED_IN,
    ("GET", "/api/v1/assignments/{assignment_id}"): READS_A,
    ("PUT", "/api/v1/assignments/{assignment_id}"): TEACHES_A,
    ("PATCH", "/api/v1/assignments/{assignment_id}"): TEACHES_A,
    ("DELETE", "/api/v1/assignments/{assignment_id}"): TEACHES_A,
    ("POST", "/api/v1/submissions"): SUBMITS_TO_A,
    ("GET", "/api/v1/submissions"): SIGNED_IN,
    ("GET", "/api/v1/submissions/{submission_id}"): READS_A,
    ("PUT", "/api/v1/submissions/{submission_id}"): TEACHES_A,
    ("PATCH", "/api/v1/submissions/{submission_id}"): TEACHES_A,
    ("DELETE", "/api/v1/submissions/{submission_id}"): TEACHES_A,
    # The class's live read-outs: its teaching staff.
    ("GET", "/api/v1/progress/classes/{class_id}"): TEACHES_A,
    ("GET", "/api/v1/progress/classes/{class_id}/cells"): TEACHES_A,
    ("GET", "/api/v1/progress/classes/{class_id}/timeline"): TEACHES_A,
    ("POST", "/api/v1/progress/classes/{class_id}/help/{student_id}/resolve"): TEACHES_A,
}


@dataclass
class World:
    users: dict[str, User]
    ids: dict[str, int | str]


def _openapi_routes() -> list[tuple[str, str]]:
    document = create_app(make_settings()).openapi()
    return sorted(
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    )


ROUTES = _openapi_routes()


def test_every_route_has_a_rule() -> None:
    missing = [route for route in ROUTES if route not in RULES]
    assert not missing, f"routes without an access rule in {__name__}: {missing}"
    stale = [route for route in RULES if route not in ROUTES]
    assert not stale, f"rules for routes that no longer exist: {stale}"


async def _created(client: httpx.AsyncClient, path: str, body: Mapping[str, Any]) -> Any:
    answer = await client.post(path, json=body)
    assert answer.status_code in (200, 201), (path, answer.text)
    return answer.json()


async def _world(app: FastAPI, admin: User) -> World:
    users = {
        "admin": admin,
        "instructor": await create_account(app, "teacher-a@example.org", "instructor"),
        "outsider": await create_account(app, "teacher-b@example.org", "instructor"),
        "student": await create_account(app, S1_EMAIL, "student"),
        "spare": await create_account(app, "spare@example.org", "instructor"),
    }
    async with signed_in(app, admin) as client:
        events = [
            execution("cell-1", emailAddress=S1_EMAIL, userName="S One", code="secret_a = 1"),
            execution("cell-1", emailAddress=S2_EMAIL, userName="S Two", code="secret_b = 2"),
        ]
        assert (await client.post("/api/v1/events", json=events)).status_code == 202
        await drain(app)
        students = {s["email"]: s["id"] for s in (await client.get("/api/v1/students")).json()}
        notebook = (await client.get("/api/v1/notebooks")).json()[0]["id"]
        ids: dict[str, int | str] = {"notebook_id": notebook, "test_id": "e2e_test_ab12_1"}
        for name, code, email, teacher in (
            ("a", CLASS_A_CODE, S1_EMAIL, "instructor"),
            ("b", CLASS_B_CODE, S2_EMAIL, "outsider"),
        ):
            class_ = await _created(client, "/api/v1/classes", {"name": name, "class_code": code})
            await add_instructor(app, class_["id"], users[teacher].id)
            await _created(
                client, f"/api/v1/classes/{class_['id']}/students", {"student_id": students[email]}
            )
            assignment = await _created(
                client,
                "/api/v1/assignments",
                {"class_id": class_["id"], "notebook_id": notebook, "title": f"Task {name}"},
            )
            submission = await _created(
                client,
                "/api/v1/submissions",
                {
                    "assignment_id": assignment["id"],
                    "student_id": students[email],
                    "notebook_content": {"cells": [], "owner": email},
                },
            )
            key = await _created(client, f"/api/v1/classes/{class_['id']}/ingest-keys", {})
            ids.update(
                {
                    f"class_{name}": class_["id"],
                    f"student_{name}": students[email],
                    f"assignment_{name}": assignment["id"],
                    f"submission_{name}": submission["id"],
                    f"key_{name}": key["id"],
                }
            )
        await add_instructor(app, int(ids["class_a"]), users["spare"].id, owner=False)
    return World(users, ids)


def _path_values(world: World) -> dict[str, int | str]:
    ids = world.ids
    return {
        "class_id": ids["class_a"],
        "student_id": ids["student_a"],
        "assignment_id": ids["assignment_a"],
        "submission_id": ids["submission_a"],
        "notebook_id": ids["notebook_id"],
        "key_id": ids["key_a"],
        "test_id": ids["test_id"],
        # The co-instructor of A (for its removal), or an account for the admins' routes.
        "user_id": world.users["spare"].id,
    }


def _request(method: str, path: str, world: World) -> dict[str, Any]:
    """A well-formed request to the route about A's objects, so that an allowed caller gets
    past validation to the answer its rights give."""
    ids = world.ids
    event = execution("cell-9", emailAddress=S1_EMAIL)
    sign_in = {"username": "teacher-a@example.org", "password": TEST_PASSWORD}
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/v1/auth/token"): {"data": sign_in},
        ("POST", "/api/v1/auth/session"): {"data": sign_in},
        ("POST", "/api/v1/auth/password"): {
            "json": {"current_password": "not the password", "new_password": "x" * 12}
        },
        ("POST", "/api/v1/events"): {"json": [event]},
        ("POST", "/api/v1/test/events/{test_id}"): {"json": [event]},
        ("POST", "/api/v1/users"): {
            "json": {"email": "n@example.org", "password": "p" * 12, "role": "instructor"}
        },
        ("PATCH", "/api/v1/users/{user_id}"): {"json": {"full_name": "Renamed"}},
        ("POST", "/api/v1/broadcast"): {"json": {"message": "hello"}},
        ("POST", "/api/v1/classes"): {"json": {"name": "New", "class_code": "NEW-1"}},
        ("PUT", "/api/v1/classes/{class_id}"): {"json": {"description": "changed"}},
        ("PATCH", "/api/v1/classes/{class_id}"): {"json": {"description": "changed"}},
        ("DELETE", "/api/v1/classes/{class_id}"): {"params": {"cascade": "true"}},
        ("POST", "/api/v1/classes/{class_id}/students"): {"json": {"student_id": ids["student_a"]}},
        ("POST", "/api/v1/classes/{class_id}/roster"): {"json": [{"email": S1_EMAIL}]},
        ("POST", "/api/v1/classes/{class_id}/roster/csv"): {
            "content": f"email\n{S1_EMAIL}\n",
            "headers": {"Content-Type": "text/csv"},
        },
        ("POST", "/api/v1/classes/{class_id}/instructors"): {
            "json": {"email": "spare@example.org"}
        },
        ("POST", "/api/v1/classes/{class_id}/ingest-keys"): {"json": {}},
        ("POST", "/api/v1/students"): {"json": {"email": "new-student@example.org"}},
        ("PATCH", "/api/v1/students/{student_id}"): {"json": {"name": "Renamed"}},
        ("POST", "/api/v1/notebooks"): {"json": {"path": "new/notebook.ipynb"}},
        ("POST", "/api/v1/assignments"): {
            "json": {
                "class_id": ids["class_a"],
                "notebook_id": ids["notebook_id"],
                "title": "Another task",
            }
        },
        ("PUT", "/api/v1/assignments/{assignment_id}"): {"json": {"title": "Renamed"}},
        ("PATCH", "/api/v1/assignments/{assignment_id}"): {"json": {"title": "Renamed"}},
        ("DELETE", "/api/v1/assignments/{assignment_id}"): {},
        ("POST", "/api/v1/submissions"): {
            "json": {
                "assignment_id": ids["assignment_a"],
                "student_id": ids["student_a"],
                "notebook_content": {"cells": []},
            }
        },
        ("PUT", "/api/v1/submissions/{submission_id}"): {"json": {"grade": 90}},
        ("PATCH", "/api/v1/submissions/{submission_id}"): {"json": {"grade": 90}},
    }
    request = dict(bodies.get((method, path), {}))
    if method in ("POST", "PUT", "PATCH") and (method, path) not in bodies:
        request["json"] = {}
    return request


def _leaks(role: str, text: str) -> list[str]:
    if role == "outsider":
        secrets = (CLASS_A_CODE, S1_EMAIL, "secret_a")
    elif role == "student":
        secrets = (CLASS_B_CODE, S2_EMAIL, "secret_b")
    else:
        return []
    return [secret for secret in secrets if secret in text]


def _matches(expected: object, status: int) -> bool:
    if expected == OK:
        return status not in REFUSALS and status < 500
    if expected == DENIED:
        return status in (403, 404)
    return status == expected


def _cases() -> list[tuple[str, str, tuple[str, ...]]]:
    """Each route with the callers asked in one world, fewest rights first. A DELETE that
    the instructor carries out would leave nothing for the admin: the admin asks its own."""
    cases = []
    for method, path in ROUTES:
        if (method, path) not in RULES:
            continue
        if method == "DELETE":
            cases.append((method, path, ROLES[:-1]))
            cases.append((method, path, ROLES[-1:]))
        else:
            cases.append((method, path, ROLES))
    return cases


@pytest.mark.parametrize(("method", "path", "roles"), _cases())
async def test_each_caller_gets_what_the_rule_gives(
    app: FastAPI, admin_user: User, method: str, path: str, roles: tuple[str, ...]
) -> None:
    world = await _world(app, admin_user)
    url = path.format(**_path_values(world))
    failures: list[str] = []
    for role in roles:
        user = world.users.get(role)
        async with signed_in(app, user) as http:
            answer = await http.request(method, url, **_request(method, path, world))
        expected = RULES[(method, path)][role]
        if not _matches(expected, answer.status_code):
            failures.append(f"{role}: expected {expected}, got {answer.status_code} {answer.text}")
        leaked = _leaks(role, answer.text)
        if leaked:
            failures.append(f"{role}: the answer holds {leaked}")
    assert not failures, f"{method} {path}:\n" + "\n".join(failures)
