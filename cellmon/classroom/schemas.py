"""What the class read-outs answer: the roster, the per-cell heat map and the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

StudentState = Literal["help", "stuck", "active", "idle"]


class CellRef(BaseModel):
    """A cell as an instructor recognises it: the notebook's path and the cell's position."""

    notebook_id: int
    notebook_path: str
    cell_id: int
    client_cell_id: str = Field(description="The `cellId` that the student's JupyterLab sent.")
    cell_index: int | None


class CurrentCell(CellRef):
    """The cell of the student's latest execution."""

    last_status: str = Field(description="`success` or `error`.")
    last_event_time: datetime


class StuckCell(CellRef):
    """The cell on which the student has the longest current run of errors."""

    consecutive_errors: int
    last_error_message: str | None


class RosterStudent(BaseModel):
    id: int
    email: str = Field(description="As the student typed it: show it as data, not as trusted.")
    name: str | None
    team_name: str | None
    state: StudentState = Field(
        description="`help` (asked for help), else `stuck` (a cell failed several times in a "
        "row), else `active` (activity within the window) or `idle`."
    )
    executions: int
    errors: int
    last_activity_at: datetime | None
    help_active: bool
    help_requested_at: datetime | None = Field(
        description="When the open help request began (null when none is open)."
    )
    current: CurrentCell | None
    stuck_on: StuckCell | None


class RosterTotals(BaseModel):
    students: int
    active: int
    idle: int
    stuck: int
    help: int
    executions: int
    errors: int


class ClassRoster(BaseModel):
    class_id: int
    class_name: str
    generated_at: datetime
    position: int = Field(
        description="The live position the roster was read at: it includes every live message "
        "of this position or lower (the messages' `position` on /ws) and none of a higher one."
    )
    active_minutes: int = Field(description="The window that tells `active` from `idle`.")
    stuck_threshold: int = Field(description="Errors in a row on one cell that make `stuck`.")
    totals: RosterTotals
    students: list[RosterStudent]


class CellHeat(BaseModel):
    cell_id: int
    client_cell_id: str
    cell_index: int | None
    cell_type: str | None
    students: int = Field(description="Enrolled students who ran the cell.")
    students_with_errors: int = Field(description="Of those, how many had at least one error.")
    students_stuck: int = Field(description="Of those, how many are stuck on it now.")
    executions: int
    errors: int
    latest_error_message: str | None = Field(
        description="The most recent error message a student of the class got on this cell."
    )


class NotebookHeat(BaseModel):
    notebook_id: int
    path: str
    name: str
    cells: list[CellHeat]


class ClassCellMap(BaseModel):
    class_id: int
    students: int = Field(description="Students enrolled in the class.")
    notebooks: list[NotebookHeat]


class TimelineBucket(BaseModel):
    start: datetime
    executions: int
    errors: int


class ClassTimeline(BaseModel):
    class_id: int
    start: datetime
    end: datetime
    interval_seconds: int
    buckets: list[TimelineBucket] = Field(description="One per interval, oldest first.")


class HelpResolution(BaseModel):
    class_id: int
    student_id: int
    help_active: bool
    was_active: bool = Field(description="False when there was no open request to close.")
    resolved_at: datetime
    position: int | None = Field(
        description="The live position of the change, as on the `help_request` message that "
        "tells of it (null when nothing changed)."
    )
