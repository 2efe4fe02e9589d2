"""The SQL database: one async engine per process, sessions per request or per unit of work."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cellmon.core.settings import Settings

# The SQLite session's settings, in the order they are applied.
SQLITE_PRAGMAS = (
    # WAL lets the API read while the embedded worker writes. NORMAL syncs the WAL at each
    # checkpoint, not at each commit: a commit stays atomic and survives the server process
    # dying (what the queue promises once it has answered 202), though not a power cut.
    ("journal_mode", "WAL"),
    ("synchronous", "NORMAL"),
    # Off by default in SQLite.
    ("foreign_keys", "ON"),
    # Concurrent writers wait instead of failing at once.
    ("busy_timeout", "30000"),
    # The worker's batches revisit the same index pages (students, cells, the queue, the
    # time-series keys): 64 MiB of page cache instead of 2 MiB, and reads of the database
    # file through a memory map rather than a copy per page.
    ("cache_size", "-65536"),
    ("mmap_size", str(256 * 1024 * 1024)),
    ("temp_store", "MEMORY"),
    # A checkpoint (and its two fsyncs) every 8000 pages (~32 MiB of WAL) instead of 1000:
    # each one stalled the in-server worker and the API's enqueues behind it.
    ("wal_autocheckpoint", "8000"),
)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for name, value in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {name}={value}")
    cursor.close()


def _end_open_transaction(dbapi_connection: Any, _record: Any, _state: Any) -> None:
    """A connection back in the pool must not hold a transaction (in WAL a forgotten one
    also keeps checkpoints from finishing). Most come back committed: asking SQLite is free,
    a rollback is a round trip to aiosqlite's thread, one of five per enqueue.
    """
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def dumps_json(value: Any) -> str:
    """JSON columns' serializer: orjson (the worker writes two documents per event into the
    embedded time-series table), falling back to the standard library for what orjson refuses
    (non-string keys, integers beyond 64 bits) so that every value stored before still is.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def create_engine(url: URL, settings: Settings | None = None) -> AsyncEngine:
    """An engine whose errors never show the statement's parameters: they hold students'
    e-mail addresses and code, and a failing batch's error is logged."""
    if url.get_backend_name() == "sqlite":
        if url.database:
            from pathlib import Path

            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # The pool's reset rolls back only a connection left in a transaction (see
        # `_end_open_transaction`).
        engine = create_async_engine(
            url, json_serializer=dumps_json, pool_reset_on_return=None, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        event.listen(engine.sync_engine, "reset", _end_open_transaction)
        return engine
    pool_size = settings.CELLMON_DB_POOL_SIZE if settings else 10
    max_overflow = settings.CELLMON_DB_MAX_OVERFLOW if settings else 10
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        json_serializer=dumps_json,
        hide_parameters=True,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """The engine and session factory of this process."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.engine = create_engine(self.url, settings)
        self.sessions = create_session_factory(self.engine)
        # SQLite has one writer at a time. Writers of this process that met its lock slept in
        # its busy handler (up to 100 ms a try), the API's enqueues behind the embedded
        # worker's batch and the other way round; here they wait their turn in the event
        # loop and start the moment the previous transaction ends.
        self._writers: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()
        )

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that writes, committed at the end (rolled back if the
        block raises)."""
        async with self._writers, self.sessions.begin() as session:
            yield session

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    async def dispose(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def snapshot(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Run the block's statements in `session` as one moment of the database (a read-out made
    of several queries then describes one state).

    In the request's own session, not a second one: a request holding its connection while it
    waited for another could, with the pool full of such requests, wait for ever. The session
    must not have changed anything: its transaction so far is committed first (its loaded
    objects stay), a read-only transaction is taken for the block and committed after it.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a snapshot is for reading: the session has changes to flush")
    await session.commit()
    if session.get_bind().dialect.name == "sqlite":
        # pysqlite opens a transaction only before a write: each SELECT alone would see the
        # latest commit. In WAL mode a read transaction keeps one snapshot.
        await session.execute(text("BEGIN"))
    else:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        yield session
    finally:
        await session.commit()
