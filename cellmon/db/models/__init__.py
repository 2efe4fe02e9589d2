"""Every ORM model, imported here so that Alembic and the application see one metadata."""

from cellmon.db.models.accounts import AuditEntry, ClassInstructor, IngestKey, RevokedToken, User
from cellmon.db.models.classes import AssignmentSubmission, Class, ClassAssignment, StudentClass
from cellmon.db.models.live import LivePosition
from cellmon.db.models.notebooks import (
    Cell,
    CellExecution,
    Notebook,
    NotebookAccess,
    StudentCellState,
)
from cellmon.db.models.pipeline import (
    DeadLetter,
    PendingTimeSeriesWrite,
    QueueEntry,
    TestEvent,
    TimeSeriesPoint,
)
from cellmon.db.models.students import ProgressEvent, Student, StudentSession

__all__ = [
    "AssignmentSubmission",
    "AuditEntry",
    "Cell",
    "CellExecution",
    "Class",
    "ClassAssignment",
    "ClassInstructor",
    "DeadLetter",
    "IngestKey",
    "LivePosition",
    "Notebook",
    "NotebookAccess",
    "PendingTimeSeriesWrite",
    "ProgressEvent",
    "QueueEntry",
    "RevokedToken",
    "Student",
    "StudentCellState",
    "StudentClass",
    "StudentSession",
    "TestEvent",
    "TimeSeriesPoint",
    "User",
]
