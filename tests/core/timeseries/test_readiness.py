"""`/ready` reports whether the configured InfluxDB answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.services import influxdb_overrides


@pytest.fixture(params=["reachable", "down"])
def influxdb_state(request: pytest.FixtureRequest) -> str:
    state: str = request.param
    return state


@pytest.fixture
def settings_overrides(
    request: pytest.FixtureRequest, influxdb_state: str, influxdb_database: str
) -> dict[str, Any]:
    overrides = influxdb_overrides(influxdb_database)
    if influxdb_state == "down":
        overrides["INFLUXDB_URL"] = request.getfixturevalue("closed_port_url")
    return overrides


async def test_ready_reports_the_influxdb_state(
    client: httpx.AsyncClient, influxdb_state: str
) -> None:
    response = await client.get("/ready")
    components = response.json()["components"]
    assert components["database"] == "ok"
    if influxdb_state == "reachable":
        assert (response.status_code, components["timeseries"]) == (200, "ok")
    else:
        assert response.status_code == 503
        assert components["timeseries"].startswith("unavailable: BackendUnavailable: InfluxDB")
