"""POST /api/v1/broadcast when the bus cannot be reached: 503, not a silent loss."""

from __future__ import annotations

from typing import Any

from asgi_lifespan import LifespanManager

from cellmon.app import create_app
from tests.accounts import ADMIN_EMAIL, create_account, signed_in
from tests.core.bus.own_redis import OwnRedis
from tests.services import make_settings


async def test_a_broadcast_on_an_unreachable_bus_answers_503(
    own_redis: OwnRedis, database_overrides: dict[str, Any]
) -> None:
    own_redis.start()
    await own_redis.wait_ready()
    settings = make_settings(
        **database_overrides,
        REDIS_HOST="127.0.0.1",
        REDIS_PORT=own_redis.port,
        CELLMON_REDIS_PREFIX="unavailable",
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        admin = await create_account(app, ADMIN_EMAIL, "admin")
        async with signed_in(app, admin) as http:
            assert (await http.post("/api/v1/broadcast", json={"message": "up"})).status_code == 202
            own_redis.stop()
            response = await http.post("/api/v1/broadcast", json={"message": "down"})
    assert response.status_code == 503
    assert "Redis Pub/Sub" in response.json()["detail"]
    assert response.headers["Retry-After"]
