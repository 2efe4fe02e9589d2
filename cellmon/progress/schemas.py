from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class HelpState(BaseModel):
    active: bool
    requested_at: datetime | None = Field(description="Start of the current (open) request.")
    last_seen_at: datetime | None = Field(description="Latest help or help_stop event.")
    handled_at: datetime | None = Field(
        description="When an instructor marked the request handled; set while the student's "
        "help toggle stays on after that, cleared by help_stop or a new request."
    )


class StreakCell(BaseModel):
    cell_id: int
    client_cell_id: str
    cell_index: int | None
    consecutive_errors: int
    last_error_message: str | None
    last_event_time: datetime


class NotebookProgress(BaseModel):
    notebook_id: int
    path: str
    name: str
    executions: int
    errors: int
    cells_run: int = Field(description="Distinct cells executed at least once.")
    last_activity_at: datetime
    current_error_streak: int = Field(
        description="Longest current run of consecutive errors on one cell of this notebook."
    )
    error_streaks: list[StreakCell] = Field(
        description="Cells whose latest executions failed, longest run first."
    )


class StudentProgress(BaseModel):
    student_id: int
    email: str
    name: str | None
    team_name: str | None
    last_activity_at: datetime | None
    help: HelpState
    notebooks: list[NotebookProgress]
