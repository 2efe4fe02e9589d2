"""Accounts for tests: made straight in the database (one slow password hash per session),
signed in with a token minted by the app's own codec."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache

import httpx
from fastapi import FastAPI

from cellmon.auth.passwords import hash_password_now
from cellmon.auth.tokens import TokenCodec
from cellmon.core.database import Database
from cellmon.db.models import ClassInstructor, User

TEST_PASSWORD = "correct horse battery staple"
ADMIN_EMAIL = "admin@example.org"


@cache
def test_password_hash() -> str:
    return hash_password_now(TEST_PASSWORD)


async def create_account(
    app: FastAPI, email: str, role: str, *, full_name: str | None = None, active: bool = True
) -> User:
    """An account whose password is TEST_PASSWORD."""
    database: Database = app.state.database
    async with database.sessions() as session:
        user = User(
            email=email.lower(),
            role=role,
            full_name=full_name,
            password_hash=test_password_hash(),
            is_active=active,
            tokens_valid_after=datetime.now(UTC),
        )
        session.add(user)
        await session.commit()
        await session.refresh(user)
        session.expunge(user)
        return user


async def add_instructor(app: FastAPI, class_id: int, user_id: int, *, owner: bool = True) -> None:
    database: Database = app.state.database
    async with database.sessions() as session:
        session.add(ClassInstructor(class_id=class_id, user_id=user_id, is_owner=owner))
        await session.commit()


def token_for(app: FastAPI, user: User) -> str:
    codec: TokenCodec = app.state.tokens
    return codec.issue(user.id).token


def bearer(app: FastAPI, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(app, user)}"}


@asynccontextmanager
async def signed_in(app: FastAPI, user: User | None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app acting for `user` (None: nobody signed in)."""
    headers = bearer(app, user) if user is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as http:
        yield http
