"""Who may subscribe to what on /ws, checked at subscribe time (and for `?channels=`):
`class:{id}` its instructors and admins; a student's `progress:` and `notifications:` the
student's own account, its instructors and admins; `broadcast` anyone signed in. A refused
channel is answered exactly as a missing one, and the socket stays open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from cellmon.core.database import Database
from cellmon.db.models import User
from tests.accounts import add_instructor, create_account
from tests.conftest import LiveServer
from tests.live.helpers import (
    add_class,
    add_student,
    connect_as,
    enroll,
    receive,
    request,
    send,
)

ALICE = "alice@example.com"


@dataclass(frozen=True)
class School:
    """Class A (taught by `teacher`) with students alice and bob, who have accounts;
    class B taught by `other_teacher`."""

    class_a: int
    alice: int
    bob: int
    accounts: dict[str, User]


@pytest.fixture
async def school(live_server: LiveServer, live_admin: User) -> School:
    app = live_server.app
    class_a = await add_class(app, "A")
    class_b = await add_class(app, "B")
    alice = await add_student(app, ALICE)
    bob = await add_student(app, "bob@example.com")
    for student in (alice, bob):
        await enroll(app, student, class_a)
    teacher = await create_account(app, "teacher@example.org", "instructor")
    other_teacher = await create_account(app, "other@example.org", "instructor")
    await add_instructor(app, class_a, teacher.id)
    await add_instructor(app, class_b, other_teacher.id)
    accounts = {
        "admin": live_admin,
        "teacher": teacher,
        "other_teacher": other_teacher,
        "alice": await create_account(app, ALICE, "student"),
        "bob": await create_account(app, "bob@example.com", "student"),
    }
    return School(class_a, alice, bob, accounts)


async def test_each_channel_kind_is_for_its_own_people(
    live_server: LiveServer, school: School
) -> None:
    klass, progress, notifications = (
        f"class:{school.class_a}",
        f"progress:{school.alice}",
        f"notifications:{school.alice}",
    )
    by_email = f"progress:{ALICE.upper()}"
    asked = [klass, progress, notifications, by_email, "broadcast"]
    everything = [klass, progress, notifications, "broadcast"]
    # Who: (subscribed, refused).
    rights = {
        "admin": (everything, []),
        "teacher": (everything, []),
        "other_teacher": (["broadcast"], [klass, progress, notifications, by_email]),
        "alice": ([progress, notifications, "broadcast"], [klass]),
        "bob": (["broadcast"], [klass, progress, notifications, by_email]),
    }
    for who, (subscribed, refused) in rights.items():
        async with connect_as(live_server, school.accounts[who]) as ws:
            reply = await request(ws, {"action": "subscribe", "channels": asked})
            assert reply == {"type": "subscribed", "channels": subscribed}, who
            if refused:
                error = await receive(ws)
                assert error["channels"] == refused, who
            assert (await request(ws, {"action": "ping"}))["type"] == "pong", who


async def test_a_refused_channel_reads_exactly_as_a_missing_one(
    live_server: LiveServer, school: School
) -> None:
    async with connect_as(live_server, school.accounts["other_teacher"]) as ws:
        refused = await request(
            ws, {"action": "subscribe", "channels": [f"class:{school.class_a}"]}
        )
        missing = await request(ws, {"action": "subscribe", "channels": ["class:999999"]})
        assert refused["message"] == f"not subscribed: class:{school.class_a}: no such class"
        assert missing["message"] == "not subscribed: class:999999: no such class"

    async with connect_as(live_server, school.accounts["bob"]) as ws:
        refused = await request(
            ws, {"action": "subscribe", "channels": [f"notifications:{school.alice}"]}
        )
        assert refused["message"].endswith(": no such student")
        # Nor does unsubscribing turn a classmate's address into its id.
        error = await request(ws, {"action": "unsubscribe", "channels": [f"progress:{ALICE}"]})
        assert error == {
            "type": "error",
            "message": f"not unsubscribed: progress:{ALICE}: no such student",
            "channels": [f"progress:{ALICE}"],
        }


async def test_channels_on_the_url_are_checked_too(live_server: LiveServer, school: School) -> None:
    query = f"?channels=broadcast,progress:{school.alice},class:{school.class_a}"
    async with connect_as(live_server, school.accounts["bob"], query) as ws:
        assert await receive(ws) == {"type": "subscribed", "channels": ["broadcast"]}
        error = await receive(ws)
        assert error["channels"] == [f"progress:{school.alice}", f"class:{school.class_a}"]
        # The socket stays open.
        assert (await request(ws, {"action": "ping"}))["type"] == "pong"


@contextmanager
def statements_on(database: Database, *tables: str) -> Iterator[list[str]]:
    """The SQL statements run meanwhile that name any of `tables` (the embedded worker polls
    its queue table on the same engine)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement: str = args[2]
        if any(table in statement for table in tables):
            seen.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_subscribe_request_costs_one_query_whatever_its_channels(
    live_server: LiveServer, school: School
) -> None:
    channels = [
        f"class:{school.class_a}",
        "class:999999",
        f"progress:{school.alice}",
        f"notifications:{school.bob}",
        f"progress:{ALICE}",
        "notifications:nobody@example.com",
        "progress:424242",
        "broadcast",
    ]
    async with connect_as(live_server, school.accounts["teacher"]) as ws:
        with statements_on(live_server.app.state.database, "students", "classes") as seen:
            await send(ws, {"action": "subscribe", "channels": channels})
            assert (await receive(ws))["type"] == "subscribed"
            assert (await receive(ws))["type"] == "error"
        assert len(seen) == 1, seen
