"""A database error, which the worker logs, never shows the statement's parameters (students'
e-mail addresses and code)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cellmon.core.database import Database
from cellmon.core.settings import Settings


async def test_a_failing_statement_hides_its_parameters(settings: Settings) -> None:
    database = Database(settings)
    try:
        async with database.sessions() as session:
            with pytest.raises(DBAPIError) as failed:
                await session.execute(
                    text("INSERT INTO no_such_table (email) VALUES (:email)"),
                    {"email": "student001@example.com"},
                )
    finally:
        await database.dispose()
    assert "student001@example.com" not in str(failed.value)
    assert "student001@example.com" not in repr(failed.value)
