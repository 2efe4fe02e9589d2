from __future__ import annotations

from typing import Any

import pytest

from tests.events.helpers import redis_overrides, redis_prefix

__all__ = ["redis_prefix"]


@pytest.fixture(params=["memory", "redis"])
def limit_storage(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings that keep the counts in the process, or in Redis under a prefix of the test's
    own (whose keys are deleted afterwards)."""
    if request.param == "memory":
        return {}
    prefix: str = request.getfixturevalue("redis_prefix")
    return redis_overrides(prefix)
