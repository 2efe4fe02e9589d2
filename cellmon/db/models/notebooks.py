from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cellmon.db.base import Base, BigIntId, TimestampMixin, UTCDateTime, utcnow


class Notebook(TimestampMixin, Base):
    """A notebook, identified by the path the client reports (shared by every student)."""

    __tablename__ = "notebooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    name: Mapped[str] = mapped_column(String(255))


class Cell(Base):
    """A cell of a notebook, identified by the client's `cellId` within that notebook."""

    __tablename__ = "cells"
    __table_args__ = (UniqueConstraint("notebook_id", "client_cell_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notebook_id: Mapped[int] = mapped_column(ForeignKey("notebooks.id", ondelete="CASCADE"))
    client_cell_id: Mapped[str] = mapped_column(String(255))
    cell_index: Mapped[int | None] = mapped_column(Integer)
    cell_type: Mapped[str | None] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CellExecution(Base):
    """One execution of one cell by one student: exactly one row per client `eventId`."""

    __tablename__ = "cell_executions"
    __table_args__ = (
        Index("ix_cell_executions_student_id_event_time", "student_id", "event_time"),
        Index("ix_cell_executions_notebook_id_cell_id", "notebook_id", "cell_id"),
        Index("ix_cell_executions_event_time", "event_time"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Deleting a student deletes their executions. The session, notebook and cell are no
    # foreign keys: the worker creates them in the batch's transaction before the rows that
    # name them and nothing deletes them, while checking them took half of PostgreSQL's time
    # per recorded execution (a trigger and a row lock per key per row; migration 0003).
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(Integer)
    notebook_id: Mapped[int] = mapped_column(Integer)
    cell_id: Mapped[int | None] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(64))
    execution_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # "success" | "error"
    error_message: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    # What the browser measured around the execution, not the kernel's own run time.
    client_duration_ms: Mapped[int | None] = mapped_column(Integer)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StudentCellState(Base):
    """Running totals of one student on one cell, and their current run of errors."""

    __tablename__ = "student_cell_states"
    __table_args__ = (Index("ix_student_cell_states_cell_id", "cell_id"),)

    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True
    )
    cell_id: Mapped[int] = mapped_column(
        ForeignKey("cells.id", ondelete="CASCADE"), primary_key=True
    )
    notebook_id: Mapped[int] = mapped_column(ForeignKey("notebooks.id", ondelete="CASCADE"))
    executions: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[str] = mapped_column(String(16))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    last_event_time: Mapped[datetime] = mapped_column(UTCDateTime())


class NotebookAccess(Base):
    """A student opening, saving or closing a notebook."""

    __tablename__ = "notebook_accesses"
    __table_args__ = (
        Index("ix_notebook_accesses_student_id_event_time", "student_id", "event_time"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    notebook_id: Mapped[int] = mapped_column(
        ForeignKey("notebooks.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))  # "open" | "save" | "close"
    event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
