"""Queries on accounts and revoked tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import RevokedToken, User


async def get(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def user_and_revocation(
    session: AsyncSession, user_id: int, token_id: str
) -> tuple[User, bool] | None:
    """The account a token names, and whether that token was revoked: one round trip."""
    revoked = exists().where(RevokedToken.token_id == token_id).label("revoked")
    row = (await session.execute(select(User, revoked).where(User.id == user_id))).first()
    if row is None:
        return None
    return row[0], bool(row[1])


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def list_users(session: AsyncSession, *, skip: int, limit: int) -> Sequence[User]:
    rows = await session.scalars(select(User).order_by(User.id).offset(skip).limit(limit))
    return rows.all()


async def revoke(session: AsyncSession, token_id: str, expires_at: datetime) -> None:
    if await session.get(RevokedToken, token_id) is None:
        session.add(RevokedToken(token_id=token_id, expires_at=expires_at))


async def forget_expired_revocations(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
