"""The live position: one counter that orders class read-outs and live messages.

A dashboard reads the class roster and hears live messages; the roster answers the position
it was read at and each message the position of the change it tells of, so that the page
keeps the newer of the two for each student (docs/architecture.md, The dashboard).

Revision ID: 0008_live_position
Revises: 0007_accounts_keys_audit
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_live_position"
down_revision: str | None = "0007_accounts_keys_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_position",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_position")),
    )


def downgrade() -> None:
    op.drop_table("live_position")
