from tests.core.bus.own_redis import own_redis
from tests.events.helpers import redis_prefix

__all__ = ["own_redis", "redis_prefix"]
