"""The erasure's answer: what was deleted, and whether anything is left to delete."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ErasedRecords(BaseModel):
    """How many of each kind of record the erasure deleted."""

    students: int = Field(description="The student row (0 on a repeat).")
    sessions: int
    cell_executions: int
    cell_states: int = Field(description="Per-cell totals and error streaks.")
    notebook_accesses: int
    progress_events: int = Field(description="Help requests, session events, other events.")
    enrollments: int
    submissions: int
    accounts: int = Field(description="The student account with the student's e-mail address.")
    audit_entries_unnamed: int = Field(
        description="Audit entries of that account whose actor is no longer named."
    )
    dead_letters: int = Field(description="Dead-lettered events with the student's address.")
    test_events: int = Field(description="Test events with the student's address.")
    timeseries_points: int | None = Field(
        description="Time-series points deleted; null where the store does not say how many "
        "(InfluxDB) or while they are still to be deleted."
    )
    pending_timeseries_points: int = Field(
        description="Points taken out of time-series writes still waiting to be retried."
    )


class ErasureReport(BaseModel):
    student_id: int
    complete: bool = Field(description="False while the time-series points are still to go.")
    timeseries: Literal["deleted", "pending"]
    deleted: ErasedRecords
    detail: str
