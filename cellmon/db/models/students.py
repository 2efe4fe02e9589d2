from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from cellmon.db.base import Base, BigIntId, TimestampMixin, UTCDateTime, utcnow


class Student(TimestampMixin, Base):
    """A student, identified by the e-mail address their JupyterLab sends (lower-cased)."""

    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    team_name: Mapped[str | None] = mapped_column(String(255))
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Current help state: set by `help`, cleared by `help_stop` or by an instructor.
    help_active: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    help_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The client's time of the latest help or help_stop event.
    help_last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When an instructor marked the request handled; the client's repeats of that same request
    # (it sends `help` every 10 s while the toggle is on) leave it closed until a help_stop.
    help_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How many times an instructor marked a request handled: a batch that read a lower count
    # learns at its merge that a request it saw open was closed meanwhile.
    help_handled_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StudentSession(Base):
    """One JupyterLab session of a student: the client's `sessionId`."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_session_id: Mapped[str] = mapped_column(String(64), unique=True)
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProgressEvent(Base):
    """Events recorded as they came: help requests, session events and unknown types."""

    __tablename__ = "progress_events"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    notebook_id: Mapped[int | None] = mapped_column(ForeignKey("notebooks.id", ondelete="SET NULL"))
    payload: Mapped[str] = mapped_column(Text)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
