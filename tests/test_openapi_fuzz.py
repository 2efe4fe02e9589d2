"""Schemathesis over every operation of the served OpenAPI document, and along its links.

Each operation gets valid and invalid requests generated from the document, sent to the real
app (in-process), signed in as each role and as nobody: an admin on SQLite and PostgreSQL, an
instructor, a student and nobody on SQLite (their refusals come from the same rules). Every
answer must be no 5xx, a status code, content type and body the document describes for that
operation. The budget (examples per operation, stateful steps) keeps the whole file to about a
minute on the 2-core machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings, strategies
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.openapi import from_dict
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from cellmon.db.models import User
from tests.accounts import bearer, create_account

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
EXAMPLES_PER_OPERATION = 8
STATEFUL_SCENARIOS = 10
STATEFUL_STEPS = 6
# The generated sign-ins and writes would soon meet the real limits and get 429s.
GENEROUS = "1000000/minute"

HYPOTHESIS = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "phases": [Phase.explicit, Phase.generate],
    "suppress_health_check": list(HealthCheck),
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict.fromkeys(
        (
            "CELLMON_RATE_LIMIT_SIGNIN_PER_ACCOUNT",
            "CELLMON_RATE_LIMIT_SIGNIN_PER_ADDRESS",
            "CELLMON_RATE_LIMIT_WRITES_PER_USER",
            "CELLMON_RATE_LIMIT_INGEST_PER_KEY",
            "CELLMON_RATE_LIMIT_INGEST_PER_ADDRESS",
        ),
        GENEROUS,
    )


class Sender:
    """Sends a case with the test's httpx client, from the thread that runs Hypothesis: the
    app stays on the test's event loop, where its fixtures started it."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        loop: asyncio.AbstractEventLoop,
        credentials: Callable[[], dict[str, str]],
    ) -> None:
        self.http = http
        self.loop = loop
        self.credentials = credentials

    def __call__(self, case: Case) -> Response:
        # A fresh credential per request: a generated sign-out revokes the ones before it.
        request = case.as_transport_kwargs(
            base_url=str(self.http.base_url), headers=self.credentials()
        )
        data = request.pop("data", None)
        if isinstance(data, str | bytes):
            request["content"] = data
        elif data is not None:
            request["data"] = data
        request.pop("auth", None)
        cookies = request.pop("cookies", None) or {}
        if cookies:
            request["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        sent = asyncio.run_coroutine_threadsafe(self.http.request(**request), self.loop)
        return Response.from_any(sent.result(timeout=60))


def failures_of(operation_label: str, test: Callable[[], None]) -> list[str]:
    try:
        test()
    except (Exception, FailureGroup) as exc:
        return [f"{operation_label}:\n{exc}"]
    return []


def fuzz_every_operation(schema: OpenApiSchema, send: Sender) -> list[str]:
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        cases = strategies.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @settings(max_examples=EXAMPLES_PER_OPERATION, **HYPOTHESIS)
        @given(case=cases)
        def answers_as_documented(case: Case) -> None:
            case.validate_response(send(case), checks=CHECKS)

        failures += failures_of(operation.label, answers_as_documented)
    return failures


def fuzz_links(schema: OpenApiSchema, send: Sender) -> list[str]:
    machine = schema.as_state_machine()

    class Scenario(machine):  # type: ignore[misc,valid-type]
        def call(self, case: Case, **kwargs: Any) -> Response:
            return send(case)

        def validate_response(self, response: Response, case: Case, **kwargs: Any) -> None:
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as exc:
                # Replaying a failing scenario meets another database state, which Hypothesis
                # reports as inconsistent data generation: keep the failure as first seen.
                first_failures.append(f"stateful, {case.operation.label}:\n{exc}")
                raise

    first_failures: list[str] = []
    scenario_settings = settings(
        max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS, **HYPOTHESIS
    )
    failures = failures_of("stateful", lambda: Scenario.run(settings=scenario_settings))
    return first_failures[:1] or failures


async def run_schemathesis(
    app: FastAPI, http: httpx.AsyncClient, credentials: Callable[[], dict[str, str]]
) -> list[str]:
    schema = from_dict(app.openapi())
    send = Sender(http, asyncio.get_running_loop(), credentials)

    def run() -> list[str]:
        return fuzz_every_operation(schema, send) + fuzz_links(schema, send)

    return await asyncio.to_thread(run)


@pytest.mark.slow
async def test_every_operation_answers_as_documented_to_an_admin(
    app: FastAPI, client: httpx.AsyncClient, admin_user: User
) -> None:
    failures = await run_schemathesis(app, client, lambda: bearer(app, admin_user))
    assert not failures, "\n\n".join(failures)


# Signed out, nearly every answer comes before the database is read: SQLite is enough.
@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_every_operation_answers_as_documented_to_nobody(
    app: FastAPI, anonymous_client: httpx.AsyncClient
) -> None:
    failures = await run_schemathesis(app, anonymous_client, dict)
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ["instructor", "student"])
async def test_every_operation_answers_as_documented_to_each_role(
    app: FastAPI, anonymous_client: httpx.AsyncClient, role: str
) -> None:
    account = await create_account(app, f"fuzzed-{role}@example.org", role)
    failures = await run_schemathesis(app, anonymous_client, lambda: bearer(app, account))
    assert not failures, "\n\n".join(failures)
