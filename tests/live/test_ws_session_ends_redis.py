"""With the Redis bus, as in production: a session ended through one server process (or by
`cellmon users disable` on the command line) closes the /ws sockets another one holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from cellmon import cli
from cellmon.core.bus.redis_pubsub import RedisPubSubBus
from cellmon.core.settings import Settings
from cellmon.live.session_ends import EndCause
from tests.accounts import create_account, token_for
from tests.conftest import AppPool, LiveServer
from tests.events.helpers import redis_overrides
from tests.live.test_ws_session_ends import assert_closed_for, assert_open, bearer_of, opened


@pytest.fixture
def settings_overrides(redis_prefix: str) -> dict[str, Any]:
    return redis_overrides(redis_prefix)


@pytest.fixture
async def other_process(settings: Settings, app_pool: AppPool) -> AsyncIterator[FastAPI]:
    """A second app on the same database and Redis prefix: another server process."""
    with app_pool.borrowed(settings) as application:
        async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
            yield application


async def test_a_sign_out_on_one_process_closes_the_socket_held_by_another(
    live_server: LiveServer, other_process: FastAPI
) -> None:
    assert other_process is not live_server.app
    assert isinstance(live_server.app.state.backends.bus, RedisPubSubBus)
    teacher = await create_account(live_server.app, "teacher@example.org", "instructor")
    signing_out, staying = token_for(live_server.app, teacher), token_for(live_server.app, teacher)
    async with AsyncExitStack() as stack:
        closing = await opened(stack, live_server, signing_out)
        kept = await opened(stack, live_server, staying)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other_process),
            base_url="http://testserver",
            headers=bearer_of(signing_out),
        ) as http:
            assert (await http.post("/api/v1/auth/logout")).status_code == 204
        await assert_closed_for(closing, EndCause.SIGNED_OUT)
        await assert_open(kept)


async def test_disabling_an_account_on_the_command_line_closes_its_sockets(
    live_server: LiveServer, settings: Settings
) -> None:
    teacher = await create_account(live_server.app, "teacher@example.org", "instructor")
    colleague = await create_account(live_server.app, "colleague@example.org", "instructor")
    async with AsyncExitStack() as stack:
        own = await opened(stack, live_server, token_for(live_server.app, teacher))
        colleagues = await opened(stack, live_server, token_for(live_server.app, colleague))
        await cli._users_disable(settings, teacher.email)
        await assert_closed_for(own, EndCause.ACCOUNT_SESSIONS_ENDED)
        await assert_open(colleagues)
