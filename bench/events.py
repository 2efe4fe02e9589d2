"""The real client's `cell_executed` events, and the pydantic model of their shape.

The model is what the bare baseline validates: the same camelCase fields the JupyterLab
extension sends (client-wire-format.md), nothing more.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import BaseModel, TypeAdapter

BASE_TIME = datetime(2026, 1, 19, 3, 0, tzinfo=UTC)
STUDENTS = 1000


class ClientEvent(BaseModel):
    eventId: uuid.UUID
    eventType: str
    eventTime: datetime
    emailAddress: str
    userName: str | None = None
    teamName: str | None = None
    sessionId: str | None = None
    notebookPath: str | None = None
    cellId: str | None = None
    cellIndex: int | None = None
    cellType: Literal["code", "markdown", "raw"] | None = None
    code: str | None = None
    executionCount: int | None = None
    hasError: bool | None = None
    errorMessage: str | None = None
    result: str | None = None
    executionDurationMs: int | None = None


CLIENT_EVENTS = TypeAdapter(list[ClientEvent])


def student_email(student: int) -> str:
    return f"bench{student:05d}@example.com"


def cell_executed(sequence: int, student: int | None = None, **extra: Any) -> dict[str, Any]:
    """Event number `sequence` of a run: unique eventId, a distinct millisecond per event."""
    student = sequence % STUDENTS if student is None else student
    failed = sequence % 10 == 0
    event: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "eventType": "cell_executed",
        "eventTime": (BASE_TIME + timedelta(milliseconds=sequence))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "emailAddress": student_email(student),
        "teamName": f"チーム{student % 12 + 1}",
        "userName": f"テスト学生{student:05d}",
        "sessionId": str(uuid.UUID(int=student + 1, version=4)),
        "notebookPath": f"lessons/week{sequence % 4 + 1}.ipynb",
        "cellId": str(uuid.UUID(int=(student << 8) + sequence % 20 + 1, version=4)),
        "cellIndex": sequence % 20,
        "cellType": "code",
        "code": "x = 2 + 2\nx" if not failed else "1/0",
        "executionCount": sequence // STUDENTS + 1,
        "hasError": failed,
        "result": "4" if not failed else "ZeroDivisionError: division by zero",
        "executionDurationMs": 2,
    }
    if failed:
        event["errorMessage"] = "ZeroDivisionError: division by zero"
    event.update(extra)
    return event


def body(events: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(events)
