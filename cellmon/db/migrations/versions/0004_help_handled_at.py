"""Students: when an instructor marked the current help request handled.

`students.help_handled_at` keeps a handled request closed while the student's JupyterLab keeps
repeating `help` (every 10 s while the help toggle is on); a help_stop clears it.

Revision ID: 0004_help_handled_at
Revises: 0003_lighter_executions
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_help_handled_at"
down_revision: str | None = "0003_lighter_executions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.add_column(sa.Column("help_handled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.drop_column("help_handled_at")
