"""`/metrics` follows the events through the route and the worker, on both databases, and
names routes by their template."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cellmon.core.logging import JsonFormatter
from cellmon.events.context import BatchContext
from cellmon.events.registry import default_registry, register_handler
from cellmon.events.schemas import IngestEvent
from tests.events.helpers import client_event, drain
from tests.metrics.helpers import scrape, value

EVENTS = "/api/v1/events"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The test's drain() is the only worker, so the queue holds what was posted until then.
    return {
        "CELLMON_RUN_WORKER_IN_SERVER": False,
        "CELLMON_WORKER_MAX_ATTEMPTS": 1,
        "CELLMON_WORKER_RETRY_BASE_SECONDS": 0,
    }


@pytest.fixture
def failing_handler() -> Iterator[str]:
    async def always_fails(context: BatchContext, events: Sequence[IngestEvent]) -> None:
        raise RuntimeError("refused by the test")

    register_handler("metrics_test_fails", always_fails)
    yield "metrics_test_fails"
    default_registry.unregister("metrics_test_fails")


async def test_counters_follow_events_from_the_route_to_the_worker(
    client: httpx.AsyncClient, app: FastAPI, failing_handler: str
) -> None:
    before = await scrape(client)
    assert value(before, "cellmon_queue_depth") == 0
    assert value(before, "cellmon_queue_oldest_age_seconds") == 0

    good = [client_event(), client_event()]
    assert (await client.post(EVENTS, json=good)).status_code == 202
    assert (
        await client.post(EVENTS, json=[client_event(eventType=failing_handler)])
    ).status_code == 202
    assert (await client.post(EVENTS, json=[{"cellIndex": "x"}])).status_code == 422
    assert (await client.post(EVENTS + "?key=cmk_nobody", json=good)).status_code == 401

    queued = await scrape(client)
    accepted = "cellmon_events_accepted_total"
    rejected = "cellmon_event_requests_rejected_total"
    assert value(queued, accepted) - value(before, accepted) == 3
    for reason in ("invalid_events", "unknown_key"):
        moved = value(queued, rejected, reason=reason) - value(before, rejected, reason=reason)
        assert moved == 1, reason
    assert value(queued, "cellmon_queue_depth") == 2
    assert value(queued, "cellmon_queue_oldest_age_seconds") > 0
    assert value(queued, "cellmon_timeseries_pending_points") == 0

    await drain(app)
    after = await scrape(client)
    processed, dead = "cellmon_events_processed_total", "cellmon_events_dead_lettered_total"
    assert value(after, processed) - value(before, processed) == 2
    assert value(after, dead) - value(before, dead) == 1
    assert value(after, "cellmon_queue_depth") == 0
    assert value(after, "cellmon_queue_oldest_age_seconds") == 0
    batches = "cellmon_batch_duration_seconds_count"
    assert value(after, batches, stage="record") > value(before, batches, stage="record")
    assert value(after, batches, stage="finish") > value(before, batches, stage="finish")


async def test_requests_are_timed_by_route_template_never_by_path(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/api/v1/students/987654")).status_code == 404
    assert (await client.post(EVENTS + "/", json=[client_event()])).status_code == 202
    assert (await client.get("/no/such/987654")).status_code == 404

    response = await client.get("/metrics")
    samples = await scrape(client)
    count = "cellmon_http_request_duration_seconds_count"
    student = value(
        samples, count, method="GET", route="/api/v1/students/{student_id}", status="404"
    )
    assert student >= 1
    assert value(samples, count, method="POST", route=EVENTS, status="202") >= 1
    assert value(samples, count, method="GET", route="unmatched", status="404") >= 1
    assert "987654" not in response.text


async def test_request_id_is_taken_when_well_formed_and_answered(
    anonymous_client: httpx.AsyncClient,
) -> None:
    given = "edge-7f3a.9:42"
    answered = await anonymous_client.get("/health", headers={"X-Request-ID": given})
    assert answered.headers["X-Request-ID"] == given

    for bad in ("has space", "x" * 129, "semi;colon"):
        replaced = await anonymous_client.get("/health", headers={"X-Request-ID": bad})
        assert replaced.headers["X-Request-ID"] not in ("", bad)

    first = (await anonymous_client.get("/health")).headers["X-Request-ID"]
    second = (await anonymous_client.get("/health")).headers["X-Request-ID"]
    assert first
    assert first != second


async def test_log_records_made_while_handling_a_request_carry_its_id(
    app: FastAPI, anonymous_client: httpx.AsyncClient
) -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(JsonFormatter().format(record))

    async def speaks() -> dict[str, str]:
        logging.getLogger("cellmon.test").warning("inside the request")
        return {}

    app.add_api_route("/test-logs-request-id", speaks)
    handler = Collect()
    logging.getLogger("cellmon.test").addHandler(handler)
    try:
        response = await anonymous_client.get(
            "/test-logs-request-id", headers={"X-Request-ID": "trace-1234"}
        )
        logging.getLogger("cellmon.test").warning("outside any request")
    finally:
        logging.getLogger("cellmon.test").removeHandler(handler)
    assert response.status_code == 200
    assert '"request_id":"trace-1234"' in records[0]
    assert "request_id" not in records[1]
