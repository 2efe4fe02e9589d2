"""Queries on the notebooks table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import Notebook


async def get(session: AsyncSession, notebook_id: int) -> Notebook | None:
    return await session.get(Notebook, notebook_id)


async def get_by_path(session: AsyncSession, path: str) -> Notebook | None:
    result = await session.scalars(select(Notebook).where(Notebook.path == path))
    return result.one_or_none()


async def list_notebooks(
    session: AsyncSession, *, skip: int, limit: int, path: str | None = None
) -> Sequence[Notebook]:
    query = select(Notebook).order_by(Notebook.id).offset(skip).limit(limit)
    if path is not None:
        query = query.where(Notebook.path == path)
    return (await session.scalars(query)).all()
