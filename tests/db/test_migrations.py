"""Migrations run from empty to head and back on both databases, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import URL

from cellmon.core.database import create_engine
from cellmon.db import migrate
from cellmon.db.base import Base

SPEC_TABLES = {
    "students",
    "sessions",
    "notebooks",
    "cells",
    "cell_executions",
    "classes",
    "student_classes",
    "class_assignments",
    "assignment_submissions",
    "notebook_accesses",
}


async def _tables(url: URL) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _differences(url: URL) -> list[object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_server_default": True}),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_creates_every_table_and_downgrade_removes_them(empty_database: URL) -> None:
    await migrate.upgrade_async(empty_database)
    assert await _tables(empty_database) >= SPEC_TABLES

    await migrate.downgrade_async(empty_database)
    assert await _tables(empty_database) <= {"alembic_version"}

    await migrate.upgrade_async(empty_database)
    assert await _tables(empty_database) >= SPEC_TABLES


async def test_migrations_match_the_models(empty_database: URL) -> None:
    await migrate.upgrade_async(empty_database)
    assert await _differences(empty_database) == []
