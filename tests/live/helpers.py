"""Helpers of the /ws tests: a signed-in JSON client, and rows the channels refer to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from cellmon.core.bus import MessageBus
from cellmon.core.database import Database
from cellmon.db.models import User
from cellmon.db.models.classes import Class, StudentClass
from cellmon.db.models.students import Student
from cellmon.live import messages as live_messages
from cellmon.live.hub import LiveHub
from cellmon.live.messages import LiveMessage
from tests.accounts import bearer
from tests.conftest import LiveServer

RECEIVE_TIMEOUT_SECONDS = 10


def connect_as(server: LiveServer, user: User | None, query: str = "", **options: Any) -> connect:
    """A /ws connection whose upgrade request carries `user`'s bearer token (None: none)."""
    headers = bearer(server.app, user) if user is not None else {}
    return connect(f"{server.ws_url}{query}", additional_headers=headers, **options)


def http_as(server: LiveServer, user: User | None) -> httpx.AsyncClient:
    """An HTTP client of the live server acting for `user` (None: nobody signed in)."""
    headers = bearer(server.app, user) if user is not None else {}
    return httpx.AsyncClient(base_url=server.base_url, headers=headers)


async def until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None, str]:
    """What the server sent until it closed the socket, its close code and reason."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frames.append(orjson.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_SECONDS)))
    except ConnectionClosed as closed:
        if closed.rcvd is None:
            return frames, None, ""
        return frames, closed.rcvd.code, closed.rcvd.reason


async def send(ws: ClientConnection, payload: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(payload).decode())


async def receive(ws: ClientConnection) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_SECONDS)
    payload: dict[str, Any] = orjson.loads(frame)
    return payload


async def request(ws: ClientConnection, payload: dict[str, Any]) -> dict[str, Any]:
    await send(ws, payload)
    return await receive(ws)


async def add_student(app: FastAPI, email: str) -> int:
    database: Database = app.state.database
    async with database.sessions() as session:
        student = Student(email=email, name=email.split("@")[0])
        session.add(student)
        await session.commit()
        return student.id


async def add_class(app: FastAPI, code: str) -> int:
    database: Database = app.state.database
    async with database.sessions() as session:
        klass = Class(name=f"Class {code}", class_code=code)
        session.add(klass)
        await session.commit()
        return klass.id


async def enroll(app: FastAPI, student_id: int, class_id: int) -> None:
    database: Database = app.state.database
    async with database.sessions() as session:
        session.add(StudentClass(student_id=student_id, class_id=class_id))
        await session.commit()


async def publish(app: FastAPI, *messages: LiveMessage) -> None:
    bus: MessageBus = app.state.backends.bus
    await live_messages.publish(bus, messages)


def hub_of(app: FastAPI) -> LiveHub:
    hub: LiveHub = app.state.hub
    return hub


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until `condition()` holds (for state that changes after the socket closes)."""
    async with asyncio.timeout(RECEIVE_TIMEOUT_SECONDS):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)
