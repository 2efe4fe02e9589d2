"""The command line refuses to serve a database that is not at this code's schema."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import URL

from cellmon.core.errors import ConfigError
from cellmon.db import migrate


async def test_only_a_database_at_head_is_served(empty_database: URL) -> None:
    with pytest.raises(ConfigError, match=r"not migrated; .*run `cellmon db upgrade`"):
        await migrate.require_head(empty_database)
    await migrate.upgrade_async(empty_database, "0006_help_handled_count")
    with pytest.raises(ConfigError, match="at revision 0006_help_handled_count; this cellmon"):
        await migrate.require_head(empty_database)
    await migrate.upgrade_async(empty_database)
    await migrate.require_head(empty_database)
