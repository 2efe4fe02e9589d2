"""The rules of the test-event API: what a body may hold, and the retention window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.base import utcnow
from cellmon.testevents import repository
from cellmon.testevents.schemas import (
    TestEvents,
    TestEventsDeleted,
    TestEventsStored,
    TestIds,
    TestIdSummary,
)


class InvalidTestEvents(ValueError):
    """The body is not a JSON object or array; the message says why."""


def split_events(body: bytes) -> list[str]:
    """The events of a body (a JSON array of events, or one event), each as JSON text."""
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidTestEvents(f"body is not JSON: {exc}") from exc
    if isinstance(document, dict):
        return [orjson.dumps(document).decode()]
    if isinstance(document, list):
        return [orjson.dumps(event).decode() for event in document]
    raise InvalidTestEvents("body must be a JSON array of events or one event object")


class TestEventService:
    __test__ = False  # not a pytest test class

    def __init__(self, session: AsyncSession, retention_seconds: int) -> None:
        self._session = session
        self._retention = timedelta(seconds=retention_seconds)

    def _oldest_kept(self, now: datetime) -> datetime:
        return now - self._retention

    async def store(self, test_id: str, events: list[str]) -> TestEventsStored:
        now = utcnow()
        # Expired events of every test id go on each write: the table stays small.
        await repository.remove_expired(self._session, self._oldest_kept(now))
        await repository.add(self._session, test_id, events, now)
        await self._session.flush()
        return TestEventsStored(test_id=test_id, received=len(events))

    async def events(self, test_id: str) -> TestEvents:
        payloads = await repository.payloads(self._session, test_id, self._oldest_kept(utcnow()))
        return TestEvents(
            test_id=test_id,
            count=len(payloads),
            events=[orjson.loads(payload) for payload in payloads],
        )

    async def clear(self, test_id: str) -> TestEventsDeleted:
        deleted = await repository.remove(self._session, test_id, self._oldest_kept(utcnow()))
        await self._session.flush()
        return TestEventsDeleted(test_id=test_id, deleted=deleted)

    async def test_ids(self) -> TestIds:
        rows = await repository.summaries(self._session, self._oldest_kept(utcnow()))
        tests = [
            TestIdSummary(test_id=test_id, count=count, last_received_at=last)
            for test_id, count, last in rows
        ]
        return TestIds(count=len(tests), tests=tests)
