"""Notebooks `/notebooks`: any signed-in account reads them (they hold paths and names, no
student's data); instructors and admins register them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from cellmon.auth.deps import CurrentUser, StaffUser
from cellmon.core.api_types import DEFAULT_LIMIT, NO_NUL, Limit, PathId, Skip, responses
from cellmon.core.deps import SessionDep
from cellmon.notebooks import service
from cellmon.notebooks.schemas import NotebookCreate, NotebookResponse

router = APIRouter(prefix="/notebooks", tags=["notebooks"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NotebookResponse,
    summary="Register a notebook (instructors and admins)",
    responses=responses(conflict="A notebook with this path already exists."),
)
async def create_notebook(body: NotebookCreate, session: SessionDep, _staff: StaffUser) -> object:
    return await service.create_notebook(session, body)


@router.get("", response_model=list[NotebookResponse], summary="List notebooks, by id")
async def list_notebooks(
    session: SessionDep,
    _user: CurrentUser,
    skip: Skip = 0,
    limit: Limit = DEFAULT_LIMIT,
    path: Annotated[str | None, Query(max_length=1024, description="Exact path."), NO_NUL] = None,
) -> object:
    return await service.list_notebooks(session, skip=skip, limit=limit, path=path)


@router.get(
    "/{notebook_id}",
    response_model=NotebookResponse,
    summary="Get a notebook",
    responses=responses(not_found="No notebook with this id."),
)
async def get_notebook(notebook_id: PathId, session: SessionDep, _user: CurrentUser) -> object:
    return await service.get_notebook(session, notebook_id)
