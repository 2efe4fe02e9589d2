"""Checks at start-up: a production configuration is safe, and every configured service
answers; each problem is named."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import text

from cellmon.core.database import create_engine
from cellmon.core.errors import ConfigError
from cellmon.core.settings import Settings

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0

# The example secrets of the original specification (server-spec: POSTGRES_PASSWORD,
# INFLUXDB_TOKEN) and of the development docker-compose.yml, known to anyone who read them.
EXAMPLE_SECRETS = frozenset(
    {
        "secretpassword",
        "my-super-secret-token",
        "cellmon-dev",
        "cellmon-dev-token",
        "cellmon-dev-password",
    }
)
SECRET_SETTINGS = (
    "POSTGRES_PASSWORD",
    "INFLUXDB_TOKEN",
    "REDIS_PASSWORD",
    "CELLMON_ADMIN_PASSWORD",
)


def check_production(settings: Settings, secret_rule: Callable[[Settings], object]) -> None:
    """With CELLMON_ENV=production, ConfigError naming every unsafe setting at once.

    `secret_rule` is the signing key's own rule (auth/tokens.py: secret_key), whose
    ConfigError is one of the problems.
    """
    if not settings.is_production:
        return
    problems: list[str] = []
    try:
        secret_rule(settings)
    except ConfigError as exc:
        problems.append(str(exc))
    if "*" in settings.BACKEND_CORS_ORIGINS:
        problems.append(
            "BACKEND_CORS_ORIGINS: '*' lets any web page call the API from a browser; "
            "name your JupyterHub's origins"
        )
    for name in SECRET_SETTINGS:
        value = getattr(settings, name)
        if value is not None and value.get_secret_value() in EXAMPLE_SECRETS:
            problems.append(f"{name}: the example value of the specification; choose your own")
    if problems:
        raise ConfigError("CELLMON_ENV=production refuses to start: " + "; ".join(problems))


async def _check_database(settings: Settings) -> None:
    engine = create_engine(settings.database_url, settings)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        if settings.uses_postgres:
            where = f"POSTGRES_SERVER={settings.POSTGRES_SERVER}:{settings.POSTGRES_PORT}"
        else:
            where = f"CELLMON_DATA_DIR={settings.CELLMON_DATA_DIR}"
        raise ConfigError(f"{where}: database unreachable: {_reason(exc)}") from exc
    finally:
        await engine.dispose()


async def _check_redis(settings: Settings) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(settings.redis_url, socket_connect_timeout=TIMEOUT_SECONDS)
    try:
        await client.ping()
    except Exception as exc:
        where = f"REDIS_HOST={settings.REDIS_HOST}:{settings.REDIS_PORT}"
        raise ConfigError(f"{where}: Redis unreachable: {_reason(exc)}") from exc
    finally:
        await client.aclose()


async def _warn_if_influxdb_unreachable(settings: Settings) -> None:
    # Not fatal: points wait in the pending table until InfluxDB answers, and a process that
    # refused to start would turn a lagging store into lost events.
    import httpx

    url = f"{settings.INFLUXDB_URL}/ping"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            response = await client.get(url)
            response.raise_for_status()
    except Exception as exc:
        logger.warning(
            "INFLUXDB_URL=%s: InfluxDB unreachable (%s); points are kept until it answers",
            settings.INFLUXDB_URL,
            _reason(exc),
        )


def _reason(exc: BaseException) -> str:
    text_ = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text_}" if text_ else type(exc).__name__


async def check_services(settings: Settings, *, database_only: bool = False) -> None:
    await _check_database(settings)
    if database_only:
        return
    if settings.uses_redis:
        await _check_redis(settings)
    if settings.uses_influxdb:
        await _warn_if_influxdb_unreachable(settings)
