"""FastAPI dependencies for the shared plumbing, as typed aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from cellmon.core.backends import Backends
from cellmon.core.bus import MessageBus
from cellmon.core.database import Database
from cellmon.core.queue import MessageQueue
from cellmon.core.settings import Settings
from cellmon.core.timeseries import TimeSeriesSink


def get_settings(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


def get_database(connection: HTTPConnection) -> Database:
    database: Database = connection.app.state.database
    return database


def get_backends(connection: HTTPConnection) -> Backends:
    backends: Backends = connection.app.state.backends
    return backends


async def get_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
    async with get_database(connection).sessions() as session:
        yield session


def get_queue(connection: HTTPConnection) -> MessageQueue:
    return get_backends(connection).queue


def get_bus(connection: HTTPConnection) -> MessageBus:
    return get_backends(connection).bus


def get_timeseries(connection: HTTPConnection) -> TimeSeriesSink:
    return get_backends(connection).timeseries


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
QueueDep = Annotated[MessageQueue, Depends(get_queue)]
BusDep = Annotated[MessageBus, Depends(get_bus)]
TimeSeriesDep = Annotated[TimeSeriesSink, Depends(get_timeseries)]
