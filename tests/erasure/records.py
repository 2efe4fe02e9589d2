"""Two students' worth of everything cellmon records, posted through the real ingest, and a
count of what the database and the time series hold of one student."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import func, select

from cellmon.db.models import (
    AssignmentSubmission,
    AuditEntry,
    CellExecution,
    DeadLetter,
    NotebookAccess,
    ProgressEvent,
    Student,
    StudentCellState,
    StudentClass,
    StudentSession,
    TestEvent,
    TimeSeriesPoint,
    User,
)
from tests.accounts import create_account
from tests.events.helpers import client_event, drain, execution
from tests.lms_factories import API, make_assignment, make_class, make_submission
from tests.services import influxql

ALICE = "alice@example.com"
BOB = "bob@example.com"
ALICE_NAME = "Alice Erasable"


def events_of(email: str, session_id: str, name: str) -> list[dict[str, Any]]:
    """A session's worth of the client's events: runs (one failing), notebook access, help."""
    who = {"emailAddress": email, "sessionId": session_id, "userName": name}
    return [
        client_event(eventType="session_start", **who),
        client_event(eventType="notebook_opened", **who),
        execution("c1", **who),
        execution("c2", error=True, time="2025-01-19T03:31:00.000Z", **who),
        client_event(eventType="help", eventTime="2025-01-19T03:32:00.000Z", **who),
        client_event(eventType="help_stop", eventTime="2025-01-19T03:33:00.000Z", **who),
    ]


async def post_events(app: FastAPI, client: httpx.AsyncClient, suffix: str) -> None:
    """Each student's session `suffix`, through POST /events, recorded."""
    for email, name in ((ALICE, ALICE_NAME), (BOB, "Bob Kept")):
        session_id = f"{email.split('@')[0]}-session-{suffix}"
        response = await client.post(
            f"{API}/events", content=orjson.dumps(events_of(email, session_id, name))
        )
        assert response.status_code == 202, response.text
    await drain(app)


async def student_id(app: FastAPI, email: str) -> int:
    async with app.state.database.sessions() as session:
        found = await session.scalar(select(Student.id).where(Student.email == email))
    assert found is not None
    return found


async def add_the_rest(app: FastAPI, client: httpx.AsyncClient) -> None:
    """What the ingest does not make: enrollment, submissions, a student account with an
    audit entry of its own, dead letters and test events carrying each student's address."""
    ids = [await student_id(app, email) for email in (ALICE, BOB)]
    class_ = await make_class(client)
    assignment = await make_assignment(client, class_id=class_["id"])
    for sid in ids:
        enrolled = await client.post(
            f"{API}/classes/{class_['id']}/students", json={"student_id": sid}
        )
        assert enrolled.status_code == 201, enrolled.text
        await make_submission(client, assignment_id=assignment["id"], student_id=sid)
    for email in (ALICE, BOB):
        account = await create_account(app, email, "student")
        async with app.state.database.sessions() as session:
            session.add(
                AuditEntry(
                    actor_id=account.id,
                    actor_email=email,
                    action="submission.create",
                    target_type="submission",
                    target_id=1,
                    detail={},
                )
            )
            # The address as the client typed it: the match ignores case and spaces.
            typed = f" {email.upper()} "
            session.add(
                DeadLetter(
                    event_id=None,
                    event_type="cell_executed",
                    body=orjson.dumps(client_event(emailAddress=typed)),
                    error="test",
                    attempts=1,
                )
            )
            await session.commit()
        stored = await client.post(
            f"{API}/test/events/erasure-test",
            content=orjson.dumps([client_event(emailAddress=email)]),
        )
        assert stored.status_code == 201, stored.text
    async with app.state.database.sessions() as session:
        session.add(DeadLetter(event_type=None, body=b"not json", error="test", attempts=1))
        await session.commit()


def _carries(text: bytes | str, email: str) -> bool:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    address = document.get("emailAddress") if isinstance(document, dict) else None
    return isinstance(address, str) and address.strip().lower() == email


async def sql_records(app: FastAPI, sid: int, email: str) -> dict[str, int]:
    """How many rows of each kind the SQL database holds of the student."""

    async def count(model: Any, *conditions: Any) -> int:
        async with app.state.database.sessions() as session:
            found = await session.scalar(select(func.count()).select_from(model).where(*conditions))
        return int(found or 0)

    async with app.state.database.sessions() as session:
        letters = (await session.scalars(select(DeadLetter.body))).all()
        tests = (await session.scalars(select(TestEvent.payload))).all()
        audit = (await session.scalars(select(AuditEntry))).all()
    return {
        "students": await count(Student, Student.id == sid),
        "sessions": await count(StudentSession, StudentSession.student_id == sid),
        "cell_executions": await count(CellExecution, CellExecution.student_id == sid),
        "cell_states": await count(StudentCellState, StudentCellState.student_id == sid),
        "notebook_accesses": await count(NotebookAccess, NotebookAccess.student_id == sid),
        "progress_events": await count(ProgressEvent, ProgressEvent.student_id == sid),
        "enrollments": await count(StudentClass, StudentClass.student_id == sid),
        "submissions": await count(AssignmentSubmission, AssignmentSubmission.student_id == sid),
        "accounts": await count(User, User.email == email),
        "audit_entries_naming": sum(entry.actor_email == email for entry in audit),
        "dead_letters": sum(_carries(body, email) for body in letters),
        "test_events": sum(_carries(payload, email) for payload in tests),
        "timeseries_points": await count(
            TimeSeriesPoint, TimeSeriesPoint.tags["userId"].as_string() == email
        ),
    }


async def influx_points(database: str, email: str) -> int:
    """The student's points in InfluxDB (every point has its notebookPath field)."""
    series = await influxql(
        database,
        'SELECT count("notebookPath") FROM student_progress WHERE "userId" = ' + "'" + email + "'",
    )
    return int(series[0]["values"][0][1]) if series else 0


async def influx_knows(database: str, email: str) -> bool:
    """Whether InfluxDB's index still holds the address (a tag value of some series)."""
    series = await influxql(database, 'SHOW TAG VALUES FROM student_progress WITH KEY = "userId"')
    return any(value == email for _key, value in (series[0]["values"] if series else []))
