"""Dead letters: events that kept failing, kept with their error for an operator.

`cellmon dlq list` shows them; `cellmon dlq replay` puts them back on the queue (once the
cause is fixed) and removes them from the store. Replay enqueues before it deletes, so an
interrupted replay at worst queues an event twice, which its eventId makes harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from cellmon.core.database import Database
from cellmon.core.queue import MessageQueue
from cellmon.db.models import DeadLetter

REPLAY_CHUNK = 500


@dataclass(frozen=True, slots=True)
class DeadLetterSummary:
    id: int
    event_id: str | None
    event_type: str | None
    error: str
    attempts: int
    failed_at: datetime


async def list_dead_letters(database: Database, limit: int = 100) -> list[DeadLetterSummary]:
    statement = (
        select(
            DeadLetter.id,
            DeadLetter.event_id,
            DeadLetter.event_type,
            DeadLetter.error,
            DeadLetter.attempts,
            DeadLetter.failed_at,
        )
        .order_by(DeadLetter.id)
        .limit(limit)
    )
    async with database.sessions() as session:
        rows = (await session.execute(statement)).all()
    return [DeadLetterSummary(*row) for row in rows]


async def replay(database: Database, queue: MessageQueue, ids: Sequence[int] | None) -> int:
    """Re-enqueue the given dead letters (all of them for None); how many were replayed."""
    replayed = 0
    last_id = 0
    while True:
        statement = select(DeadLetter.id, DeadLetter.body).order_by(DeadLetter.id)
        if ids is None:
            statement = statement.where(DeadLetter.id > last_id).limit(REPLAY_CHUNK)
        else:
            statement = statement.where(DeadLetter.id.in_(ids))
        async with database.sessions() as session:
            rows = (await session.execute(statement)).all()
        if not rows:
            return replayed
        await queue.enqueue([body for _id, body in rows])
        async with database.sessions.begin() as session:
            await session.execute(
                delete(DeadLetter).where(DeadLetter.id.in_([row_id for row_id, _body in rows]))
            )
        replayed += len(rows)
        last_id = rows[-1][0]
        if ids is not None:
            return replayed
