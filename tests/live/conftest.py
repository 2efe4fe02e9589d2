import pytest

from cellmon.db.models import User
from tests.accounts import ADMIN_EMAIL, create_account
from tests.conftest import LiveServer
from tests.core.bus.own_redis import own_redis
from tests.events.helpers import redis_prefix

__all__ = ["own_redis", "redis_prefix"]


@pytest.fixture
async def live_admin(live_server: LiveServer) -> User:
    """An admin of the live server, who may subscribe to every channel."""
    return await create_account(live_server.app, ADMIN_EMAIL, "admin")
