"""Run Alembic migrations from code (`cellmon db upgrade`, tests) without an alembic.ini."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from cellmon.core.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def _in_thread(func: Callable[..., None], *args: object) -> None:
    # env.py drives its own event loop with asyncio.run, so it must not run on the caller's.
    errors: list[BaseException] = []

    def target() -> None:
        try:
            func(*args)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def upgrade(url: URL, revision: str = "head") -> None:
    _in_thread(command.upgrade, alembic_config(url), revision)


def downgrade(url: URL, revision: str = "base") -> None:
    _in_thread(command.downgrade, alembic_config(url), revision)


async def upgrade_async(url: URL, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, url, revision)


async def downgrade_async(url: URL, revision: str = "base") -> None:
    await asyncio.to_thread(downgrade, url, revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


async def current_revision(url: URL) -> str | None:
    """The revision the database is migrated to; None when it is not migrated at all."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            revision: str | None = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
            return revision
    except DBAPIError:
        return None
    finally:
        await engine.dispose()


async def require_head(url: URL) -> None:
    """ConfigError unless the database is migrated to this code's head revision: a server
    on an older schema would fail request after request instead of once, clearly."""
    revision = await current_revision(url)
    head = head_revision()
    if revision != head:
        found = f"at revision {revision}" if revision else "not migrated"
        raise ConfigError(
            f"the database is {found}; this cellmon needs {head}: run `cellmon db upgrade`"
        )
