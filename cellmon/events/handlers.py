"""The built-in handlers: what each kind of event becomes in the database.

Each works on all the events of its kinds in a batch at once (events/repository.py: one
statement per table), inside the batch's transaction, between `open_batch` and `close_batch`
(events/batch.py): it inserts the rows keyed by eventId, which no other batch updates, and
queues the live messages of the rows that are new. Executions also leave their runs per
student and cell in the context, which `close_batch` adds to the shared cell states.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any

from cellmon.events import repository
from cellmon.events.context import BatchContext, CellRun
from cellmon.events.schemas import ACCESS_ACTIONS, IngestEvent
from cellmon.live.messages import EXECUTION_UPDATE, HELP_REQUEST

by_time = attrgetter("event_time")
# Rows keyed by eventId go in eventId order, so that two workers holding the same events (a
# redelivery, a client's retry) lock them in the same order instead of deadlocking.
by_id = attrgetter("event_id")
row_id = itemgetter("event_id")


async def record_executions(context: BatchContext, events: Sequence[IngestEvent]) -> None:
    """cell_executions rows; for the new ones, live messages, and the runs of executions
    `close_batch` adds to the cell states."""
    session, dialect = context.session, context.dialect
    students, notebooks = context.students, context.notebooks
    wanted_cells = {
        (notebooks[event.notebook_path], event.cell_id): {
            "cell_index": event.cell_index,
            "cell_type": event.cell_type,
        }
        for event in events
        if event.cell_id
    }
    cells = await repository.resolve_cells(session, dialect, wanted_cells)
    # In the events' order; the live messages below read their ids back from them.
    rows: list[dict[str, Any]] = [
        {
            "event_id": event.event_id,
            "student_id": students[event.email],
            "session_id": context.session_id(event),
            "notebook_id": notebooks[event.notebook_path],
            "cell_id": cells[(notebooks[event.notebook_path], event.cell_id)]
            if event.cell_id
            else None,
            "event_type": event.event_type,
            "execution_count": event.execution_count,
            "status": execution_status(event),
            "error_message": event.error_message,
            "code": event.code,
            "result": event.result,
            "client_duration_ms": event.duration_ms,
            "event_time": event.event_time,
            "received_at": event.received_at,
        }
        for event in events
    ]
    new = await repository.insert_executions(session, dialect, sorted(rows, key=row_id))
    recorded = [
        (event, row) for event, row in zip(events, rows, strict=True) if event.event_id in new
    ]
    recorded.sort(key=_time_of_pair)
    runs = context.cell_runs
    for event, row in recorded:
        student_id, notebook_id, cell_id = row["student_id"], row["notebook_id"], row["cell_id"]
        # Item by item: merging who()'s dict into another took half as long again.
        message = who(event, student_id)
        message["execution_id"] = new[event.event_id]
        message["notebook_id"] = notebook_id
        message["notebook_path"] = event.notebook_path
        message["cell_id"] = cell_id
        message["client_cell_id"] = event.cell_id
        message["cell_index"] = event.cell_index
        message["cell_type"] = event.cell_type
        message["execution_count"] = event.execution_count
        message["status"] = row["status"]
        message["error_message"] = event.error_message
        message["client_duration_ms"] = event.duration_ms
        context.notify(EXECUTION_UPDATE, student_id, message)
        if cell_id is None:
            continue
        run = runs.get((student_id, cell_id))
        if run is None:
            run = runs[(student_id, cell_id)] = CellRun(notebook_id)
        run.executions += 1
        if event.has_error:
            run.errors += 1
            run.trailing_errors += 1
        else:
            run.trailing_errors = 0
        run.last = event


def _time_of_pair(pair: tuple[IngestEvent, dict[str, Any]]) -> datetime:
    return pair[0].event_time


async def record_accesses(context: BatchContext, events: Sequence[IngestEvent]) -> None:
    """notebook_accesses rows: open, save, close."""
    await repository.insert_accesses(
        context.session,
        context.dialect,
        [
            {
                "event_id": event.event_id,
                "student_id": context.students[event.email],
                "notebook_id": context.notebooks[event.notebook_path],
                "session_id": context.session_id(event),
                "action": ACCESS_ACTIONS[event.event_type],
                "event_time": event.event_time,
                "received_at": event.received_at,
            }
            for event in sorted(events, key=by_id)
        ],
    )


async def record_progress_events(context: BatchContext, events: Sequence[IngestEvent]) -> None:
    """progress_events rows for help, session and unknown events, the event kept as it came;
    a new `help` / `help_stop` is announced live (the state itself is set by open_batch)."""
    new = await repository.insert_progress_events(
        context.session,
        context.dialect,
        [
            {
                "event_id": event.event_id,
                "event_type": event.event_type,
                "student_id": context.students[event.email],
                "session_id": context.session_id(event),
                "notebook_id": context.notebooks[event.notebook_path],
                "payload": event.body.decode(),
                "event_time": event.event_time,
                "received_at": event.received_at,
            }
            for event in sorted(events, key=by_id)
        ],
    )
    for event in sorted(events, key=by_time):
        if event.event_type == "help" and event.email in context.handled_help:
            continue
        if event.event_id in new and event.event_type in ("help", "help_stop"):
            student_id = context.students[event.email]
            context.notify(
                HELP_REQUEST,
                student_id,
                {
                    **who(event, student_id),
                    "active": event.event_type == "help",
                    "notebook_path": event.notebook_path,
                },
            )


def execution_status(event: IngestEvent) -> str:
    return "error" if event.has_error else "success"


def who(event: IngestEvent, student_id: int) -> dict[str, Any]:
    """What every live message about an event says about the event and its student."""
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "event_time": event.event_time,
        "student_id": student_id,
        "email": event.email,
        "name": event.user_name,
        "team_name": event.team_name,
        "session_id": event.session_id,
    }
