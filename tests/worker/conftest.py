from tests.events.helpers import redis_prefix

__all__ = ["redis_prefix"]
