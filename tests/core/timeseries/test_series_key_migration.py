"""Migration 0002 gives points stored before it their series key and keeps one copy of each."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.engine import URL

from cellmon.core.database import create_engine
from cellmon.core.timeseries.sql import series_key
from cellmon.db import migrate


async def test_existing_points_get_their_series_key(empty_database: URL) -> None:
    await migrate.upgrade_async(empty_database, "0001")
    engine = create_engine(empty_database)
    insert = text(
        "INSERT INTO timeseries_points (measurement, time_ns, tags, fields) "
        "VALUES ('m', :time_ns, :tags, :fields)"
    )
    try:
        async with engine.begin() as connection:
            for time_ns, tags, fields in [
                (1, '{"u": "a", "e": ""}', '{"n": 1}'),
                (1, '{"u": "b"}', '{"n": 2}'),
                (1, '{"u": "a"}', '{"n": 3}'),  # the same point as the first, written later
            ]:
                await connection.execute(
                    insert, {"time_ns": time_ns, "tags": tags, "fields": fields}
                )
        await migrate.upgrade_async(empty_database)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT series_key, fields FROM timeseries_points ORDER BY id")
                )
            ).all()
    finally:
        await engine.dispose()
    # Raw SQL reads JSON as text on SQLite, decoded on PostgreSQL.
    decoded = [(key, json.loads(f) if isinstance(f, str) else f) for key, f in rows]
    assert decoded == [
        (series_key("m", {"u": "b"}), {"n": 2}),
        (series_key("m", {"u": "a"}), {"n": 3}),
    ]
