"""Two classes, each with its own instructor, and students whose executions the real ingest
recorded: the ground of the access tests of the activity read-outs.

Import the `two_classes` fixture in a conftest to use it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from cellmon.db.models import User
from tests.accounts import add_instructor, create_account, signed_in
from tests.classroom.seed import Seeder, database
from tests.events.helpers import client_event, drain, execution

ANN = "ann@example.com"
BOB = "bob@example.com"
ZED = "zed@example.com"


@dataclass(frozen=True)
class TwoClasses:
    """`python` (taught by `teacher`): ann and her classmate bob, who asks for help; `lab`
    (taught by `other_teacher`): zed, who asks for help too. Ann has a student account."""

    app: FastAPI
    python: int
    lab: int
    ann: int
    bob: int
    zed: int
    accounts: dict[str, User | None]
    # The eventIds the ingest recorded, per student id.
    executions: dict[int, list[str]]

    def as_(self, who: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        """A client signed in as `who`: admin, teacher, other_teacher, ann or anonymous."""
        return signed_in(self.app, self.accounts[who])


@pytest.fixture
async def two_classes(app: FastAPI, client: httpx.AsyncClient, admin_user: User) -> TwoClasses:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        python = await seed.klass("Python 1", "PY1")
        lab = await seed.klass("Lab", "LAB")
        ann = await seed.student(ANN, python)
        bob = await seed.student(BOB, python)
        zed = await seed.student(ZED, lab)
        await session.commit()
    teacher = await create_account(app, "teacher@example.org", "instructor")
    other_teacher = await create_account(app, "other.teacher@example.org", "instructor")
    await add_instructor(app, python.id, teacher.id)
    await add_instructor(app, lab.id, other_teacher.id)
    ann_account = await create_account(app, ANN, "student")

    start = datetime.now(UTC) - timedelta(seconds=30)

    def at(second: int) -> str:
        return (start + timedelta(seconds=second)).isoformat(timespec="milliseconds")[:-6] + "Z"

    lab_notebook = "lab/1.ipynb"
    events = [
        execution("a", time=at(0), eventId="ann-1", emailAddress=ANN),
        execution("b", error=True, time=at(1), eventId="ann-2", emailAddress=ANN),
        execution("a", time=at(2), eventId="bob-1", emailAddress=BOB),
        client_event(eventType="help", eventTime=at(3), emailAddress=BOB),
        execution(
            "z",
            error=True,
            time=at(4),
            eventId="zed-1",
            emailAddress=ZED,
            notebookPath=lab_notebook,
        ),
        client_event(
            eventType="help", eventTime=at(5), emailAddress=ZED, notebookPath=lab_notebook
        ),
    ]
    response = await client.post("/api/v1/events", json=events)
    assert response.status_code == 202, response.text
    await drain(app)
    return TwoClasses(
        app=app,
        python=python.id,
        lab=lab.id,
        ann=ann.id,
        bob=bob.id,
        zed=zed.id,
        accounts={
            "admin": admin_user,
            "teacher": teacher,
            "other_teacher": other_teacher,
            "ann": ann_account,
            "anonymous": None,
        },
        executions={ann.id: ["ann-1", "ann-2"], bob.id: ["bob-1"], zed.id: ["zed-1"]},
    )
