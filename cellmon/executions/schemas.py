from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ExecutionStatus = Literal["success", "error"]


@dataclass(frozen=True, slots=True)
class ExecutionFilters:
    """What a reader narrows the executions it may see to; None leaves a filter off."""

    student_id: int | None = None
    notebook_id: int | None = None
    cell_id: int | None = None
    status: ExecutionStatus | None = None
    since: datetime | None = None


class CellExecutionRead(BaseModel):
    id: int
    event_id: str
    event_type: str
    student_id: int
    notebook_id: int
    cell_id: int | None
    execution_count: int | None
    status: ExecutionStatus
    error_message: str | None
    code: str | None
    result: str | None
    client_duration_ms: int | None = Field(
        description="The run time the client measured: the JupyterLab extension times the "
        "execution in the student's browser (kernel queueing and messaging included); "
        "cellmon.client times the kernel's own run of the cell."
    )
    event_time: datetime = Field(description="When it happened, by the client's clock.")
    received_at: datetime = Field(description="When the server received it.")
    session_id: str | None = Field(description="The client's sessionId.")
