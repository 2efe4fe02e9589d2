"""The SQL database: one async engine per process, sessions per request or per unit of work."""

from __future__ import annotations

import json
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cellmon.core.settings import Settings


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the embedded worker writes; foreign keys are off by default
    # in SQLite; the busy timeout makes concurrent writers wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _dumps_json(value: Any) -> str:
    """JSON columns' serializer: orjson (the worker writes two documents per event into the
    embedded time-series table), falling back to the standard library for what orjson refuses
    (non-string keys, integers beyond 64 bits) so that every value stored before still is.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def create_engine(url: URL, settings: Settings | None = None) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        if url.database:
            from pathlib import Path

            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, json_serializer=_dumps_json)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    pool_size = settings.CELLMON_DB_POOL_SIZE if settings else 10
    max_overflow = settings.CELLMON_DB_MAX_OVERFLOW if settings else 10
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        json_serializer=_dumps_json,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """The engine and session factory of this process."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.engine = create_engine(self.url, settings)
        self.sessions = create_session_factory(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    async def dispose(self) -> None:
        await self.engine.dispose()
