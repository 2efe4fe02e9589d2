"""Events on the wire (what the JupyterLab client posts) and in the queue (what workers read).

`ClientEvent` is a TypedDict so that one pydantic `TypeAdapter` validates a whole request body
straight from its bytes into plain dicts, which go on to the queue without another model.
Field names are the client's camelCase names. Only `eventType` is required: any other field
may be absent (or null), because a 4xx loses the student's event for good.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Required

import orjson
from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, with_config
from typing_extensions import TypedDict

# Identifiers longer than their columns are refused: they are not free text and cutting them
# would merge different things. Free text (names) is cut; large text is truncated and marked.
EventType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Identifier64 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=320)]
NotebookPath = Annotated[str, StringConstraints(max_length=1024)]
CellId = Annotated[str, StringConstraints(max_length=255)]
CellType = Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)]


@with_config(ConfigDict(extra="allow"))
class ClientEvent(TypedDict, total=False):
    """One event as the client sends it; fields it does not know are kept for generic events."""

    eventId: Identifier64 | None
    eventType: Required[EventType]
    eventTime: datetime | None
    emailAddress: Email | None
    userName: str | None
    teamName: str | None
    sessionId: Identifier64 | None
    notebookPath: NotebookPath | None
    cellId: CellId | None
    cellIndex: int | None
    cellType: CellType | None
    code: str | None
    executionCount: int | None
    hasError: bool | None
    errorMessage: str | None
    result: str | None
    # An int from the real client; other tools may send fractions of a millisecond.
    executionDurationMs: float | None


EVENT_LIST = TypeAdapter(list[ClientEvent])
# The queue form's field for the class of the request's ingest key: set by the server only.
CLASS_ID_FIELD = "classId"
SINGLE_EVENT = TypeAdapter(ClientEvent)


class EventsAccepted(BaseModel):
    message: str


class EventError(BaseModel):
    event_index: int | None
    field: str | None
    message: str


class EventErrors(BaseModel):
    detail: list[EventError]


# Kinds of events the built-in handlers know, by the names the client and the spec use.
EXECUTION_TYPES = frozenset(
    {"cell_executed", "cell_execution_complete", "cell_execution_error", "cell_error"}
)
ERROR_EXECUTION_TYPES = frozenset({"cell_execution_error", "cell_error"})
ACCESS_ACTIONS = {
    "notebook_opened": "open",
    "notebook_saved": "save",
    "notebook_save": "save",
    "notebook_closed": "close",
}
HELP_TYPES = frozenset({"help", "help_stop"})
SESSION_TYPES = frozenset({"session_start", "session_end"})
# Recorded as generic progress events: a start carries no outcome, so it is not an execution.
GENERIC_KNOWN_TYPES = frozenset({"cell_execution_start"})
KNOWN_TYPES = (
    EXECUTION_TYPES | frozenset(ACCESS_ACTIONS) | HELP_TYPES | SESSION_TYPES | GENERIC_KNOWN_TYPES
)


@dataclass(slots=True)
class IngestEvent:
    """An accepted event as a worker reads it off the queue (normalised by the API)."""

    event_id: str
    event_type: str
    event_time: datetime
    received_at: datetime
    email: str
    user_name: str | None
    team_name: str | None
    session_id: str | None
    notebook_path: str
    cell_id: str | None
    cell_index: int | None
    cell_type: str | None
    code: str | None
    execution_count: int | None
    has_error: bool
    error_message: str | None
    result: str | None
    duration_ms: int | None
    # The class of the ingest key the event came with: its student is enrolled there.
    class_id: int | None
    # The event's queue form as decoded, kept for dead letters and generic payloads.
    data: dict[str, Any]

    @property
    def body(self) -> bytes:
        """The event's own JSON, serialised only when needed (a message holds many events)."""
        return orjson.dumps(self.data)

    @classmethod
    def from_queue(cls, data: dict[str, Any]) -> IngestEvent:
        # Filled field by field: a keyword call to the 20-field __init__ took as long again,
        # for each event a worker reads.
        get = data.get
        event = object.__new__(cls)
        event.event_type = event_type = data["eventType"]
        event.event_id = data["eventId"]
        event.event_time = datetime.fromisoformat(data["eventTime"])
        event.received_at = _received_at(data["receivedAt"])
        event.email = data["emailAddress"]
        event.user_name = get("userName")
        event.team_name = get("teamName")
        event.session_id = get("sessionId")
        event.notebook_path = data["notebookPath"]
        event.cell_id = get("cellId")
        event.cell_index = get("cellIndex")
        event.cell_type = get("cellType")
        event.code = get("code")
        event.execution_count = get("executionCount")
        event.error_message = error_message = get("errorMessage")
        has_error = get("hasError")
        if has_error is None:
            has_error = event_type in ERROR_EXECUTION_TYPES or bool(error_message)
        event.has_error = bool(has_error)
        event.result = get("result")
        duration = get("executionDurationMs")
        event.duration_ms = round(duration) if duration is not None else None
        event.class_id = get(CLASS_ID_FIELD)
        event.data = data
        return event


# The events of one request share their receivedAt: parsed once.
@functools.lru_cache(maxsize=256)
def _received_at(text: str) -> datetime:
    return datetime.fromisoformat(text)
