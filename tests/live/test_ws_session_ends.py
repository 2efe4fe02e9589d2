"""An open /ws socket ends with its session, not only when its token expires: signing out
or refreshing ends the sockets of that token, a password change, a change of role or a
disabled account ends every socket of the account, and so does erasing the student whose
account it is. Other sessions' sockets stay open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from cellmon.db.models import User
from cellmon.live.admission import CLOSE_NOT_SIGNED_IN
from cellmon.live.messages import BROADCAST_CHANNEL, SYSTEM_MESSAGE, LiveMessage
from cellmon.live.session_ends import GOODBYES, EndCause
from tests.accounts import ADMIN_EMAIL, TEST_PASSWORD, create_account, token_for
from tests.classroom.seed import Seeder
from tests.conftest import LiveServer
from tests.live.helpers import eventually, hub_of, publish, receive, request, until_closed

NEW_PASSWORD = "a new password nobody guesses"
PUPIL_EMAIL = "pupil@example.com"


def bearer_of(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def opened(stack: AsyncExitStack, server: LiveServer, token: str) -> ClientConnection:
    """A socket signed in with `token`, subscribed to the broadcast channel."""
    ws = await stack.enter_async_context(
        connect(f"{server.ws_url}?channels=broadcast", additional_headers=bearer_of(token))
    )
    assert await receive(ws) == {"type": "subscribed", "channels": ["broadcast"]}
    return ws


async def post(server: LiveServer, token: str, path: str, **body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base_url, headers=bearer_of(token)) as http:
        return await http.post(f"/api/v1{path}", **body)


async def assert_closed_for(ws: ClientConnection, cause: EndCause) -> None:
    frames, code, reason = await until_closed(ws)
    goodbye = GOODBYES[cause]
    assert (code, reason) == (CLOSE_NOT_SIGNED_IN, goodbye.reason)
    assert frames[-1]["type"] == "error"
    assert frames[-1]["message"] == goodbye.message


async def assert_open(ws: ClientConnection) -> None:
    """For a socket whose hub already handled the session end (another socket got it)."""
    assert (await request(ws, {"action": "ping"}))["type"] == "pong"


async def assert_not_closed(server: LiveServer, ws: ClientConnection) -> None:
    """For a socket that would be closed by a session end just published: a message published
    after it comes through only once the hub has handled it (the bus keeps the order)."""
    await publish(server.app, LiveMessage(SYSTEM_MESSAGE, (BROADCAST_CHANNEL,), {"n": 1}))
    assert (await receive(ws))["type"] == SYSTEM_MESSAGE


@pytest.fixture
async def teacher(live_server: LiveServer) -> User:
    return await create_account(live_server.app, "teacher@example.org", "instructor")


@pytest.fixture
async def colleague(live_server: LiveServer) -> User:
    return await create_account(live_server.app, "colleague@example.org", "instructor")


async def test_signing_out_closes_that_tokens_sockets_only(
    live_server: LiveServer, teacher: User, colleague: User
) -> None:
    lecture_hall, office = token_for(live_server.app, teacher), token_for(live_server.app, teacher)
    async with AsyncExitStack() as stack:
        hall_sockets = [await opened(stack, live_server, lecture_hall) for _ in range(2)]
        in_office = await opened(stack, live_server, office)
        colleagues = await opened(stack, live_server, token_for(live_server.app, colleague))

        assert (await post(live_server, lecture_hall, "/auth/logout")).status_code == 204

        for ws in hall_sockets:
            await assert_closed_for(ws, EndCause.SIGNED_OUT)
        await assert_open(in_office)
        await assert_open(colleagues)
    # Its token is refused from now on, so the client cannot just reconnect.
    async with connect(live_server.ws_url, additional_headers=bearer_of(lecture_hall)) as ws:
        _, code, _ = await until_closed(ws)
    assert code == CLOSE_NOT_SIGNED_IN
    await eventually(lambda: hub_of(live_server.app).subscriber_count == 0)
    assert not hub_of(live_server.app)._sessions


async def test_a_socket_subscribed_to_nothing_is_closed_too(
    live_server: LiveServer, teacher: User
) -> None:
    """It could subscribe later; and a hub whose sockets watch no channel still listens."""
    token = token_for(live_server.app, teacher)
    async with connect(live_server.ws_url, additional_headers=bearer_of(token)) as idle:
        assert (await request(idle, {"action": "ping"}))["type"] == "pong"
        assert (await post(live_server, token, "/auth/logout")).status_code == 204
        await assert_closed_for(idle, EndCause.SIGNED_OUT)


async def test_a_refresh_closes_the_sockets_of_the_token_it_replaced(
    live_server: LiveServer, teacher: User
) -> None:
    old, other = token_for(live_server.app, teacher), token_for(live_server.app, teacher)
    async with AsyncExitStack() as stack:
        replaced = await opened(stack, live_server, old)
        kept = await opened(stack, live_server, other)
        response = await post(live_server, old, "/auth/refresh")
        assert response.status_code == 200
        await assert_closed_for(replaced, EndCause.TOKEN_REFRESHED)
        await assert_open(kept)
        await assert_open(await opened(stack, live_server, response.json()["access_token"]))


async def test_a_password_change_closes_every_socket_of_the_account(
    live_server: LiveServer, teacher: User, colleague: User
) -> None:
    changing, elsewhere = token_for(live_server.app, teacher), token_for(live_server.app, teacher)
    async with AsyncExitStack() as stack:
        own = [await opened(stack, live_server, token) for token in (changing, elsewhere)]
        colleagues = await opened(stack, live_server, token_for(live_server.app, colleague))
        response = await post(
            live_server,
            changing,
            "/auth/password",
            json={"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert response.status_code == 204, response.text
        for ws in own:
            await assert_closed_for(ws, EndCause.ACCOUNT_SESSIONS_ENDED)
        await assert_open(colleagues)


async def test_a_wrong_current_password_closes_nothing(
    live_server: LiveServer, teacher: User
) -> None:
    token = token_for(live_server.app, teacher)
    async with AsyncExitStack() as stack:
        ws = await opened(stack, live_server, token)
        response = await post(
            live_server,
            token,
            "/auth/password",
            json={"current_password": "not the password", "new_password": NEW_PASSWORD},
        )
        assert response.status_code == 400
        await assert_not_closed(live_server, ws)


async def assert_admin_action_closes_the_accounts_sockets(
    server: LiveServer,
    account: User,
    colleague: User,
    action: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    cause: EndCause,
) -> httpx.Response:
    """Two sockets of `account`, one of `colleague` and one of an admin, who then does
    `action`: the account's sockets are closed for `cause`, the others stay open."""
    admin_token = token_for(server.app, await create_account(server.app, ADMIN_EMAIL, "admin"))
    async with AsyncExitStack() as stack:
        own = [await opened(stack, server, token_for(server.app, account)) for _ in range(2)]
        others = [
            await opened(stack, server, token_for(server.app, colleague)),
            await opened(stack, server, admin_token),
        ]
        async with httpx.AsyncClient(
            base_url=server.base_url, headers=bearer_of(admin_token)
        ) as http:
            response = await action(http)
        assert response.status_code == 200, response.text
        for ws in own:
            await assert_closed_for(ws, cause)
        for ws in others:
            await assert_open(ws)
    return response


@pytest.mark.parametrize(
    "change", [{"is_active": False}, {"role": "student"}], ids=["disabled", "demoted"]
)
async def test_an_admin_disabling_or_demoting_an_account_closes_its_sockets(
    live_server: LiveServer, teacher: User, colleague: User, change: dict[str, Any]
) -> None:
    await assert_admin_action_closes_the_accounts_sockets(
        live_server,
        teacher,
        colleague,
        lambda http: http.patch(f"/api/v1/users/{teacher.id}", json=change),
        EndCause.ACCOUNT_SESSIONS_ENDED,
    )


async def test_erasing_a_student_closes_the_sockets_of_their_account(
    live_server: LiveServer, colleague: User
) -> None:
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        student = await seed.student(PUPIL_EMAIL, await seed.klass())
        await session.commit()
    pupil = await create_account(live_server.app, PUPIL_EMAIL, "student")
    response = await assert_admin_action_closes_the_accounts_sockets(
        live_server,
        pupil,
        colleague,
        lambda http: http.delete(f"/api/v1/students/{student.id}"),
        EndCause.ACCOUNT_ERASED,
    )
    assert response.json()["deleted"]["accounts"] == 1


async def test_renaming_an_account_closes_nothing(live_server: LiveServer, teacher: User) -> None:
    admin = await create_account(live_server.app, ADMIN_EMAIL, "admin")
    async with AsyncExitStack() as stack:
        ws = await opened(stack, live_server, token_for(live_server.app, teacher))
        async with httpx.AsyncClient(
            base_url=live_server.base_url, headers=bearer_of(token_for(live_server.app, admin))
        ) as http:
            response = await http.patch(
                f"/api/v1/users/{teacher.id}", json={"full_name": "Dr. Teacher"}
            )
        assert response.status_code == 200, response.text
        await assert_not_closed(live_server, ws)
