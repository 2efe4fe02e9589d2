"""Migrations run from empty to head and back on both databases, and match the models."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import URL

from cellmon.core.database import create_engine
from cellmon.db import migrate
from cellmon.db.base import Base
from tests.services import postgres_url, service_missing, unique_name

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


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield URL.create("sqlite+aiosqlite", database=str(tmp_path / "empty.db"))
        return
    name = unique_name("cellmon_migrations")
    try:
        admin = await asyncpg.connect(
            host=postgres_url(name).host,
            port=postgres_url(name).port,
            user=postgres_url(name).username,
            database="postgres",
            timeout=5,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", exc)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
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
