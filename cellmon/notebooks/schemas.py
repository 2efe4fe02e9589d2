"""Notebooks on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import Field, model_validator

from cellmon.core.api_types import NO_NUL, RequestModel, ResponseModel, trimmed

NAME_MAX = 255
NotebookPath = Annotated[
    str,
    trimmed(1024),
    NO_NUL,
    Field(description="The path the JupyterLab client reports, e.g. `lessons/week1.ipynb`."),
]
NotebookName = Annotated[str, trimmed(NAME_MAX), NO_NUL]


def file_name(path: str) -> str:
    """The last part of a notebook path, with either kind of separator."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path


class NotebookCreate(RequestModel):
    path: NotebookPath
    name: NotebookName | None = Field(
        default=None, description="Defaults to the file name of the path."
    )

    @model_validator(mode="after")
    def _default_name(self) -> Self:
        if self.name is None:
            name = file_name(self.path)
            if len(name) > NAME_MAX:
                raise ValueError(
                    f"the path's file name is longer than {NAME_MAX} characters; give a name"
                )
            self.name = name
        return self


class NotebookResponse(ResponseModel):
    id: int
    path: str
    name: str
    created_at: datetime
    updated_at: datetime
