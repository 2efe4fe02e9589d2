"""The class timeline read from a real InfluxDB (1.x API) instead of the embedded store."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from cellmon.db.models import User
from tests.classroom.test_timeline import assert_counts_per_minute
from tests.services import influxdb_overrides


@pytest.fixture
def settings_overrides(influxdb_database: str) -> dict[str, Any]:
    return influxdb_overrides(influxdb_database)


async def test_timeline_counts_the_class_per_minute_on_influxdb(
    app: FastAPI, admin_user: User
) -> None:
    assert app.state.settings.uses_influxdb
    await assert_counts_per_minute(app, admin_user)
