"""A request's unit of work: services flush, the request's session commits once.

`SessionDep` commits when the route returns and rolls back when anything raised, before the
answer is sent (see `cellmon.core.deps.get_session`); services and repositories only flush.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

AfterCommit = Callable[[], Awaitable[None]]

_AFTER_COMMIT = "cellmon.after_commit"


def after_commit(session: AsyncSession, action: AfterCommit) -> None:
    """Run `action` once the request's transaction is committed; never if it is not.

    For what must not be seen before the change it speaks of is stored: a student told of a
    grade must find it when they look."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


async def commit(session: AsyncSession) -> None:
    """Commit the session, then run what was waiting for the commit."""
    await session.commit()
    actions: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for action in actions:
        await action()


@asynccontextmanager
async def refused_as(session: AsyncSession, error: Exception) -> AsyncIterator[None]:
    """Write the changes made in the block in a savepoint; when a constraint refuses them,
    only they are undone and `error` (naming what conflicted) is raised instead.

    The changes must be made inside the block: entering a savepoint first flushes what is
    pending, outside it."""
    await begin_for_savepoint(session)
    try:
        async with session.begin_nested():
            yield
    except IntegrityError as exc:
        raise error from exc


async def begin_for_savepoint(session: AsyncSession) -> None:
    """Make sure the session's transaction is open in the database before a savepoint.

    SQLite's driver begins a transaction only before a write: a savepoint taken before any
    write would be the outermost transaction, and releasing it would commit its changes on
    their own, outside the request's unit of work."""
    connection = await session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = await connection.get_raw_connection()
    if not raw.driver_connection.in_transaction:  # type: ignore[union-attr]
        await connection.exec_driver_sql("BEGIN")
