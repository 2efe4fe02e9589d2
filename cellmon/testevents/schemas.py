"""What the test-event API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

# What the client's proxy puts in the path (`e2e_test_<hex>_<digits>`), and tools alike.
TEST_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"
TEST_ID_MAX_LENGTH = 128


class TestEventsStored(BaseModel):
    __test__ = False  # not a pytest test class

    test_id: str
    received: int = Field(description="events stored from this request")


class TestEvents(BaseModel):
    __test__ = False

    test_id: str
    count: int
    events: list[Any] = Field(description="the events as received, oldest first")


class TestEventsDeleted(BaseModel):
    __test__ = False

    test_id: str
    deleted: int


class TestIdSummary(BaseModel):
    __test__ = False

    test_id: str
    count: int
    last_received_at: datetime


class TestIds(BaseModel):
    __test__ = False

    count: int
    tests: list[TestIdSummary]
