"""Lighter cell_executions: no foreign keys to sessions, notebooks and cells, no session index.

cell_executions takes a row per executed cell, the bulk of what the worker writes. Each foreign
key checked every row with a trigger that looks up and share-locks the referenced row: the
three dropped here cost PostgreSQL about as much as the insert itself (20 -> 10 CPU-µs per
row). The worker creates a batch's sessions, notebooks and cells in the same transaction
before the executions that name them, and nothing deletes those rows. The index on session_id
served only the ON DELETE SET NULL of the dropped key: no read-out filters on sessions. The
key to students stays, so that deleting a student still deletes their executions.

Revision ID: 0003_lighter_executions
Revises: 0002_timeseries
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_lighter_executions"
down_revision: str | None = "0002_timeseries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (column, referenced table, ON DELETE) of each foreign key dropped.
DROPPED_KEYS = (
    ("session_id", "sessions", "SET NULL"),
    ("notebook_id", "notebooks", "CASCADE"),
    ("cell_id", "cells", "CASCADE"),
)


def upgrade() -> None:
    with op.batch_alter_table("cell_executions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cell_executions_session_id"))
        for column, table, _on_delete in DROPPED_KEYS:
            batch_op.drop_constraint(
                batch_op.f(f"fk_cell_executions_{column}_{table}"), type_="foreignkey"
            )


def downgrade() -> None:
    with op.batch_alter_table("cell_executions", schema=None) as batch_op:
        for column, table, on_delete in DROPPED_KEYS:
            batch_op.create_foreign_key(
                batch_op.f(f"fk_cell_executions_{column}_{table}"),
                table,
                [column],
                ["id"],
                ondelete=on_delete,
            )
        batch_op.create_index(
            batch_op.f("ix_cell_executions_session_id"), ["session_id"], unique=False
        )
