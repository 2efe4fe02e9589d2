"""Where the test suite finds the real services, and what it does when one is missing.

With CELLMON_REQUIRE_SERVICES=1 (as .ci/run sets) a missing service fails the run;
otherwise the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, NoReturn

import pytest
from sqlalchemy.engine import URL

from cellmon.core.settings import Settings

REQUIRE_SERVICES = os.environ.get("CELLMON_REQUIRE_SERVICES") == "1"

POSTGRES_HOST = os.environ.get("CELLMON_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("CELLMON_TEST_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("CELLMON_TEST_POSTGRES_USER", "postgres")
POSTGRES_PASSWORD = os.environ.get("CELLMON_TEST_POSTGRES_PASSWORD", "")
REDIS_HOST = os.environ.get("CELLMON_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("CELLMON_TEST_REDIS_PORT", "6379"))
INFLUXDB_URL = os.environ.get("CELLMON_TEST_INFLUXDB_URL", "http://127.0.0.1:8086")


def service_missing(service: str, reason: object) -> NoReturn:
    message = f"{service} is not available: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (CELLMON_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def postgres_url(database: str) -> URL:
    return URL.create(
        "postgresql+asyncpg",
        username=POSTGRES_USER,
        password=POSTGRES_PASSWORD or None,
        host=POSTGRES_HOST,
        port=POSTGRES_PORT,
        database=database,
    )


def make_settings(**overrides: Any) -> Settings:
    """Settings for a test: nothing from the environment or a .env file leaks in."""
    values: dict[str, Any] = {
        "POSTGRES_SERVER": None,
        "REDIS_HOST": None,
        "INFLUXDB_URL": None,
        "BACKEND_CORS_ORIGINS": [],
        "CELLMON_LOG_FORMAT": "console",
        "CELLMON_SECRET_KEY": "a-test-secret-that-is-long-enough-for-hs256-signing",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def postgres_overrides(database: str) -> dict[str, Any]:
    return {
        "POSTGRES_SERVER": POSTGRES_HOST,
        "POSTGRES_PORT": POSTGRES_PORT,
        "POSTGRES_USER": POSTGRES_USER,
        "POSTGRES_PASSWORD": POSTGRES_PASSWORD,
        "POSTGRES_DB": database,
    }


def influxdb_overrides(database: str, api_version: int = 1) -> dict[str, Any]:
    """Settings that send the time series to the test InfluxDB, retrying quickly."""
    return {
        "INFLUXDB_URL": INFLUXDB_URL,
        "INFLUXDB_API_VERSION": api_version,
        "INFLUXDB_BUCKET": database,
        "CELLMON_INFLUXDB_RETRY_SECONDS": 0.01,
        "CELLMON_INFLUXDB_PENDING_INTERVAL_SECONDS": 0.05,
        "CELLMON_INFLUXDB_PENDING_MAX_SECONDS": 0.2,
    }


async def influxql(database: str, query: str) -> list[dict[str, Any]]:
    """Run InfluxQL on the test InfluxDB; the series of the first statement (times in ns)."""
    import httpx

    async with httpx.AsyncClient(base_url=INFLUXDB_URL, timeout=10) as client:
        response = await client.post("/query", data={"db": database, "q": query, "epoch": "ns"})
    response.raise_for_status()
    result = response.json()["results"][0]
    assert "error" not in result, result["error"]
    series: list[dict[str, Any]] = result.get("series", [])
    return series
