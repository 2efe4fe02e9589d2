"""Initial schema: the ten tables of the specification and the plumbing tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "classes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("class_code", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classes")),
        sa.UniqueConstraint("class_code", name=op.f("uq_classes_class_code")),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dead_letters_failed_at"), ["failed_at"], unique=False)

    op.create_table(
        "notebooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notebooks")),
        sa.UniqueConstraint("path", name=op.f("uq_notebooks_path")),
    )
    op.create_table(
        "pending_timeseries_writes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_timeseries_writes")),
    )
    with op.batch_alter_table("pending_timeseries_writes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_timeseries_writes_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "queue_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visible_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_entries")),
    )
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.create_index("ix_queue_entries_visible_at", ["visible_at"], unique=False)

    op.create_table(
        "students",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("team_name", sa.String(length=255), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("help_active", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("help_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("help_last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_students")),
        sa.UniqueConstraint("email", name=op.f("uq_students_email")),
    )
    op.create_table(
        "test_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("test_id", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_events")),
    )
    with op.batch_alter_table("test_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_test_events_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_test_events_test_id"), ["test_id"], unique=False)

    op.create_table(
        "timeseries_points",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("measurement", sa.String(length=64), nullable=False),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeseries_points")),
    )
    with op.batch_alter_table("timeseries_points", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timeseries_points_measurement_time", ["measurement", "time_ns"], unique=False
        )

    op.create_table(
        "cells",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notebook_id", sa.Integer(), nullable=False),
        sa.Column("client_cell_id", sa.String(length=255), nullable=False),
        sa.Column("cell_index", sa.Integer(), nullable=True),
        sa.Column("cell_type", sa.String(length=16), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name=op.f("fk_cells_notebook_id_notebooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cells")),
        sa.UniqueConstraint(
            "notebook_id", "client_cell_id", name=op.f("uq_cells_notebook_id_client_cell_id")
        ),
    )
    op.create_table(
        "class_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("notebook_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("due_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["class_id"],
            ["classes.id"],
            name=op.f("fk_class_assignments_class_id_classes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name=op.f("fk_class_assignments_notebook_id_notebooks"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_assignments")),
    )
    with op.batch_alter_table("class_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_class_assignments_class_id"), ["class_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_class_assignments_notebook_id"), ["notebook_id"], unique=False
        )

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_session_id", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_sessions_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("client_session_id", name=op.f("uq_sessions_client_session_id")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_student_id"), ["student_id"], unique=False)

    op.create_table(
        "student_classes",
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_id"],
            ["classes.id"],
            name=op.f("fk_student_classes_class_id_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_student_classes_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("student_id", "class_id", name=op.f("pk_student_classes")),
    )
    with op.batch_alter_table("student_classes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_student_classes_class_id"), ["class_id"], unique=False)

    op.create_table(
        "assignment_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column(
            "notebook_content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("grade", sa.Float(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["class_assignments.id"],
            name=op.f("fk_assignment_submissions_assignment_id_class_assignments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_assignment_submissions_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_submissions")),
    )
    with op.batch_alter_table("assignment_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignment_submissions_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(
            "ix_assignment_submissions_student_id_assignment_id",
            ["student_id", "assignment_id"],
            unique=False,
        )

    op.create_table(
        "cell_executions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("notebook_id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("execution_count", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("client_duration_ms", sa.Integer(), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["cells.id"],
            name=op.f("fk_cell_executions_cell_id_cells"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name=op.f("fk_cell_executions_notebook_id_notebooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_cell_executions_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_cell_executions_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cell_executions")),
        sa.UniqueConstraint("event_id", name=op.f("uq_cell_executions_event_id")),
    )
    with op.batch_alter_table("cell_executions", schema=None) as batch_op:
        batch_op.create_index("ix_cell_executions_event_time", ["event_time"], unique=False)
        batch_op.create_index(
            "ix_cell_executions_notebook_id_cell_id", ["notebook_id", "cell_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cell_executions_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            "ix_cell_executions_student_id_event_time", ["student_id", "event_time"], unique=False
        )

    op.create_table(
        "notebook_accesses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("notebook_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name=op.f("fk_notebook_accesses_notebook_id_notebooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_notebook_accesses_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_notebook_accesses_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notebook_accesses")),
        sa.UniqueConstraint("event_id", name=op.f("uq_notebook_accesses_event_id")),
    )
    with op.batch_alter_table("notebook_accesses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notebook_accesses_notebook_id"), ["notebook_id"], unique=False
        )
        batch_op.create_index(
            "ix_notebook_accesses_student_id_event_time", ["student_id", "event_time"], unique=False
        )

    op.create_table(
        "progress_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("notebook_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name=op.f("fk_progress_events_notebook_id_notebooks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_progress_events_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_progress_events_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_progress_events_event_id")),
    )
    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_progress_events_event_type"), ["event_type"], unique=False
        )

    op.create_table(
        "student_cell_states",
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("notebook_id", sa.Integer(), nullable=False),
        sa.Column("executions", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.String(length=16), nullable=False),
        sa.Column("last_error_message", sa.Text(), nullable=True),
        sa.Column("last_event_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["cells.id"],
            name=op.f("fk_student_cell_states_cell_id_cells"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notebook_id"],
            ["notebooks.id"],
            name=op.f("fk_student_cell_states_notebook_id_notebooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_student_cell_states_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("student_id", "cell_id", name=op.f("pk_student_cell_states")),
    )
    with op.batch_alter_table("student_cell_states", schema=None) as batch_op:
        batch_op.create_index("ix_student_cell_states_cell_id", ["cell_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("student_cell_states", schema=None) as batch_op:
        batch_op.drop_index("ix_student_cell_states_cell_id")

    op.drop_table("student_cell_states")
    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_progress_events_event_type"))

    op.drop_table("progress_events")
    with op.batch_alter_table("notebook_accesses", schema=None) as batch_op:
        batch_op.drop_index("ix_notebook_accesses_student_id_event_time")
        batch_op.drop_index(batch_op.f("ix_notebook_accesses_notebook_id"))

    op.drop_table("notebook_accesses")
    with op.batch_alter_table("cell_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_cell_executions_student_id_event_time")
        batch_op.drop_index(batch_op.f("ix_cell_executions_session_id"))
        batch_op.drop_index("ix_cell_executions_notebook_id_cell_id")
        batch_op.drop_index("ix_cell_executions_event_time")

    op.drop_table("cell_executions")
    with op.batch_alter_table("assignment_submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_assignment_submissions_student_id_assignment_id")
        batch_op.drop_index(batch_op.f("ix_assignment_submissions_assignment_id"))

    op.drop_table("assignment_submissions")
    with op.batch_alter_table("student_classes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_student_classes_class_id"))

    op.drop_table("student_classes")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_student_id"))

    op.drop_table("sessions")
    with op.batch_alter_table("class_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_class_assignments_notebook_id"))
        batch_op.drop_index(batch_op.f("ix_class_assignments_class_id"))

    op.drop_table("class_assignments")
    op.drop_table("cells")
    with op.batch_alter_table("timeseries_points", schema=None) as batch_op:
        batch_op.drop_index("ix_timeseries_points_measurement_time")

    op.drop_table("timeseries_points")
    with op.batch_alter_table("test_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_test_events_test_id"))
        batch_op.drop_index(batch_op.f("ix_test_events_received_at"))

    op.drop_table("test_events")
    op.drop_table("students")
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_entries_visible_at")

    op.drop_table("queue_entries")
    with op.batch_alter_table("pending_timeseries_writes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_timeseries_writes_created_at"))

    op.drop_table("pending_timeseries_writes")
    op.drop_table("notebooks")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_failed_at"))
        batch_op.drop_index(batch_op.f("ix_dead_letters_event_id"))

    op.drop_table("dead_letters")
    op.drop_table("classes")
