from tests.core.bus.own_redis import own_redis

__all__ = ["own_redis"]
