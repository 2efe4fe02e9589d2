import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.util import greenlet_spawn

from cellmon.core.database import SQLITE_PRAGMAS, Database, dumps_json
from cellmon.core.settings import Settings


def test_json_columns_serialize_like_the_standard_library() -> None:
    document = {"tags": {"cell": "c1"}, "fields": {"duration_ms": 12.5, "error": None}}

    assert json.loads(dumps_json(document)) == document


def test_json_columns_still_store_what_orjson_refuses() -> None:
    # Integer keys and integers beyond 64 bits were stored before orjson served JSON columns.
    document = {1: "first cell", "count": 2**70}

    assert dumps_json(document) == json.dumps(document)


async def test_sqlite_sessions_are_configured_for_the_embedded_queue(tmp_path: Path) -> None:
    settings = Settings(CELLMON_DATA_DIR=tmp_path)
    database = Database(settings)
    try:
        async with database.sessions() as session:
            applied = {
                name: str((await session.execute(text(f"PRAGMA {name}"))).scalar())
                for name, _value in SQLITE_PRAGMAS
            }
    finally:
        await database.dispose()

    assert applied == {
        "journal_mode": "wal",
        # NORMAL: commits survive the process dying, which a 202 promises.
        "synchronous": "1",
        "foreign_keys": "1",
        "busy_timeout": "30000",
        "cache_size": "-65536",
        "mmap_size": str(256 * 1024 * 1024),
        # MEMORY
        "temp_store": "2",
        "wal_autocheckpoint": "8000",
    }


async def test_sqlite_writers_of_a_process_take_turns(tmp_path: Path) -> None:
    # Without turns the second writer would meet SQLite's lock and sleep in its busy handler.
    database = Database(Settings(CELLMON_DATA_DIR=tmp_path))
    steps: list[str] = []

    async def write(name: str) -> None:
        async with database.writing() as session:
            steps.append(f"{name} begins")
            await session.execute(text("INSERT INTO written VALUES (:name)"), {"name": name})
            await asyncio.sleep(0.05)
            steps.append(f"{name} ends")

    try:
        async with database.writing() as session:
            await session.execute(text("CREATE TABLE written (name TEXT)"))
        await asyncio.gather(write("first"), write("second"))
        async with database.sessions() as session:
            written = (await session.execute(text("SELECT name FROM written"))).scalars().all()
    finally:
        await database.dispose()

    assert steps == ["first begins", "first ends", "second begins", "second ends"]
    assert sorted(written) == ["first", "second"]


async def _write_then_fail(database: Database) -> None:
    async with database.writing() as session:
        await session.execute(text("INSERT INTO written VALUES ('lost')"))
        raise RuntimeError("batch failed")


async def test_a_write_that_raises_is_rolled_back_and_frees_the_next(tmp_path: Path) -> None:
    database = Database(Settings(CELLMON_DATA_DIR=tmp_path))
    try:
        async with database.writing() as session:
            await session.execute(text("CREATE TABLE written (name TEXT)"))
        with pytest.raises(RuntimeError, match="batch failed"):
            await _write_then_fail(database)
        async with database.writing() as session:
            await session.execute(text("INSERT INTO written VALUES ('kept')"))
        async with database.sessions() as session:
            written = (await session.execute(text("SELECT name FROM written"))).scalars().all()
    finally:
        await database.dispose()

    assert written == ["kept"]


def _abandon_a_transaction(database: Database) -> bool:
    """Give a connection back to the pool in a transaction, straight (no session or engine
    connection that would roll back by itself); whether the next one taken is in one."""
    pooled = database.engine.sync_engine.raw_connection()
    pooled.cursor().execute("INSERT INTO written VALUES ('abandoned')")
    assert pooled.driver_connection is not None
    assert pooled.driver_connection.in_transaction
    pooled.close()
    again = database.engine.sync_engine.raw_connection()
    try:
        assert again.driver_connection is not None
        return bool(again.driver_connection.in_transaction)
    finally:
        again.close()


async def test_a_connection_returned_in_a_transaction_is_rolled_back(tmp_path: Path) -> None:
    database = Database(Settings(CELLMON_DATA_DIR=tmp_path))
    try:
        async with database.writing() as session:
            await session.execute(text("CREATE TABLE written (name TEXT)"))
        in_transaction = await greenlet_spawn(_abandon_a_transaction, database)
        async with database.sessions() as session:
            written = (await session.execute(text("SELECT name FROM written"))).scalars().all()
    finally:
        await database.dispose()

    assert not in_transaction
    assert written == []
