"""Rules on notebooks: one notebook per path."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.core.errors import ConflictError, NotFoundError
from cellmon.core.unit_of_work import refused_as
from cellmon.db.models import Notebook
from cellmon.notebooks import repository
from cellmon.notebooks.schemas import NotebookCreate


async def get_notebook(session: AsyncSession, notebook_id: int) -> Notebook:
    notebook = await repository.get(session, notebook_id)
    if notebook is None:
        raise NotFoundError(f"notebook {notebook_id} does not exist")
    return notebook


async def notebook_exists(session: AsyncSession, notebook_id: int) -> bool:
    return await repository.get(session, notebook_id) is not None


def _taken(path: str) -> ConflictError:
    return ConflictError(f"a notebook with path {path!r} already exists")


async def create_notebook(session: AsyncSession, body: NotebookCreate) -> Notebook:
    if await repository.get_by_path(session, body.path) is not None:
        raise _taken(body.path)
    assert body.name is not None  # filled in by the schema
    notebook = Notebook(path=body.path, name=body.name)
    # Created meanwhile by another request or by the ingest worker?
    async with refused_as(session, _taken(body.path)):
        session.add(notebook)
    return notebook


async def list_notebooks(
    session: AsyncSession, *, skip: int, limit: int, path: str | None
) -> Sequence[Notebook]:
    return await repository.list_notebooks(session, skip=skip, limit=limit, path=path)
