"""CELLMON_METRICS_TOKEN: only its bearer reads /metrics; without it, anyone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.metrics.helpers import scrape

TOKEN = "a-metrics-token-for-prometheus"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CELLMON_METRICS_TOKEN": TOKEN}


async def test_only_the_tokens_bearer_reads_metrics(anonymous_client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = await anonymous_client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert "cellmon_" not in refused.text
    samples = await scrape(anonymous_client, Authorization=f"Bearer {TOKEN}")
    assert any(name == "cellmon_queue_depth" for name, _labels in samples)


async def test_an_admin_session_is_not_the_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 401
