"""FastAPI dependencies for the shared plumbing, as typed aliases.

Every dependency is `async def`, even those that only read app state: FastAPI runs a plain
`def` dependency in its thread pool, a thread hop per request that costs more than the work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from cellmon.core.backends import Backends
from cellmon.core.bus import MessageBus
from cellmon.core.database import Database
from cellmon.core.errors import ConflictError
from cellmon.core.queue import MessageQueue
from cellmon.core.settings import Settings
from cellmon.core.timeseries import TimeSeriesSink
from cellmon.core.unit_of_work import commit


async def get_settings(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


def _database(connection: HTTPConnection) -> Database:
    database: Database = connection.app.state.database
    return database


def _backends(connection: HTTPConnection) -> Backends:
    backends: Backends = connection.app.state.backends
    return backends


async def get_database(connection: HTTPConnection) -> Database:
    return _database(connection)


async def get_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed once when the route returns, rolled back when
    anything raised. Its dependency scope is "function" so that this runs before the answer
    is sent: a commit that fails is an error answer, never a 2xx for what was not stored."""
    async with _database(connection).sessions() as session:
        try:
            yield session
            await commit(session)
        except IntegrityError as exc:
            await session.rollback()
            # A constraint that no service anticipated (those it expects, it names with
            # `refused_as`): another request changed the same rows meanwhile.
            raise ConflictError(
                "the change conflicts with data stored meanwhile; nothing was saved"
            ) from exc
        except BaseException:
            await session.rollback()
            raise


async def get_queue(connection: HTTPConnection) -> MessageQueue:
    return _backends(connection).queue


async def get_bus(connection: HTTPConnection) -> MessageBus:
    return _backends(connection).bus


async def get_timeseries(connection: HTTPConnection) -> TimeSeriesSink:
    return _backends(connection).timeseries


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
QueueDep = Annotated[MessageQueue, Depends(get_queue)]
BusDep = Annotated[MessageBus, Depends(get_bus)]
TimeSeriesDep = Annotated[TimeSeriesSink, Depends(get_timeseries)]
