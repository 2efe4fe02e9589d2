"""Students: how many times an instructor has marked a help request handled.

A worker's batch reads a student's help state, then merges its help events into the row at its
end. `students.help_handled_count` tells the merge whether an instructor marked the request
handled in between (the count moved since the batch read it), so that the batch's repeats of
the request do not open it again.

Revision ID: 0006_help_handled_count
Revises: 0005_queue_without_index
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_help_handled_count"
down_revision: str | None = "0005_queue_without_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("help_handled_count", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.drop_column("help_handled_count")
