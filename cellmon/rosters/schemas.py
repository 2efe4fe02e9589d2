"""Rosters on the wire: the rows an instructor imports, and the report of what each became."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from cellmon.core.api_types import RequestModel, ResponseModel

# One lecture hall's roster with room to spare; larger imports are split by the caller.
MAX_ROSTER_ROWS = 5000


class RosterEntry(RequestModel):
    """One student of the roster. Its values are checked row by row (the answer names what is
    wrong in each row), so one bad address does not refuse the whole roster."""

    email: str = Field(description="The address the student's JupyterLab sends.")
    name: str | None = None
    team_name: str | None = None


class RosterOutcome(StrEnum):
    CREATED = "created"
    ENROLLED = "enrolled"
    ALREADY_ENROLLED = "already_enrolled"
    ERROR = "error"


class RosterRowReport(ResponseModel):
    row: int = Field(
        description="JSON: the entry's position, from 1. CSV: the spreadsheet's row number "
        "(the header is row 1)."
    )
    email: str | None = Field(description="The address as stored (lower-cased), or as given.")
    outcome: RosterOutcome = Field(
        description="`created`: a new student, enrolled; `enrolled`: an existing student, "
        "enrolled now; `already_enrolled`: nothing to do; `error`: the row was skipped."
    )
    student_id: int | None
    error: str | None = Field(description="What is wrong with the row, for `error`.")


class RosterImportReport(ResponseModel):
    class_id: int
    rows: int = Field(description="The rows read (blank rows of a CSV file are not counted).")
    created: int
    enrolled: int
    already_enrolled: int
    errors: int
    changed: bool = Field(description="Whether the import created or enrolled anyone.")
    ignored_columns: list[str] = Field(
        description="CSV: the header's columns that name no field cellmon keeps."
    )
    results: list[RosterRowReport]
