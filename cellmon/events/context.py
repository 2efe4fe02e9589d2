"""What a handler receives: the batch's open transaction and the identities already resolved."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.events.schemas import IngestEvent


# Not frozen: a frozen dataclass's __init__ costs three times as much, and a batch makes a
# notification per execution.
@dataclass(slots=True)
class Notification:
    """A live message about one student, sent to their channels once the batch is committed."""

    type: str
    student_id: int
    data: Mapping[str, Any]


@dataclass(slots=True)
class CellRun:
    """A batch's new executions of one cell by one student, summed in time order."""

    notebook_id: int
    executions: int = 0
    errors: int = 0
    trailing_errors: int = 0
    last: IngestEvent | None = None


@dataclass(slots=True)
class BatchContext:
    """One batch of events being recorded in one transaction.

    Every event's student, session (when it has a `sessionId`) and notebook exist already and
    are mapped here by the event's e-mail, client session id and notebook path.
    """

    session: AsyncSession
    dialect: str
    students: Mapping[str, int]
    sessions: Mapping[str, int]
    notebooks: Mapping[str, int]
    # Students whose `help` events in this batch repeat a request an instructor handled.
    handled_help: frozenset[str] = frozenset()
    # What the batch merges into the rows other batches share, at its end (close_batch):
    # its students and sessions that existed before it and that it changes, and its new
    # executions by (student id, cell id).
    student_merges: list[dict[str, Any]] = field(default_factory=list)
    session_merges: list[dict[str, Any]] = field(default_factory=list)
    cell_runs: dict[tuple[int, int], CellRun] = field(default_factory=dict)
    # (student id, class id) of the events that came with a class's ingest key.
    enrollments: set[tuple[int, int]] = field(default_factory=set)
    notifications: list[Notification] = field(default_factory=list)

    def notify(self, type_: str, student_id: int, data: Mapping[str, Any]) -> None:
        self.notifications.append(Notification(type_, student_id, data))

    def session_id(self, event: IngestEvent) -> int | None:
        return self.sessions.get(event.session_id) if event.session_id else None


# A handler records a group of events of its type (in the order they happened) with as few
# statements as it can; it raises to fail the batch, which is then retried.
EventHandler = Callable[[BatchContext, Sequence[IngestEvent]], Awaitable[None]]
