"""Time series: a point is its series and timestamp; pending writes carry their next attempt.

`timeseries_points.series_key` (SHA-256 of the measurement and the sorted non-empty tags) with a
unique constraint on (series_key, time_ns) lets the embedded store replace a rewritten point in
one upsert, as InfluxDB does, without touching another series' point of the same instant.
`pending_timeseries_writes.next_attempt_at` spaces out the retries of what InfluxDB did not take.

Revision ID: 0002_timeseries
Revises: 0001
Create Date: 2026-11-29
"""

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_timeseries"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _series_key(measurement: str, tags: dict[str, str]) -> str:
    # Frozen copy of cellmon.core.timeseries.sql.series_key at this revision.
    canonical = [measurement, sorted((key, value) for key, value in tags.items() if key and value)]
    text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("timeseries_points", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_key", sa.String(length=64), nullable=True))

    points = sa.table(
        "timeseries_points",
        sa.column("id", sa.BigInteger()),
        sa.column("measurement", sa.String()),
        sa.column("series_key", sa.String()),
        sa.column("time_ns", sa.BigInteger()),
        sa.column("tags", JSON_TYPE),
    )
    bind = op.get_bind()
    latest: dict[tuple[str, int], int] = {}
    for row in bind.execute(
        sa.select(points.c.id, points.c.measurement, points.c.time_ns, points.c.tags).order_by(
            points.c.id
        )
    ):
        key = _series_key(row.measurement, row.tags)
        bind.execute(sa.update(points).where(points.c.id == row.id).values(series_key=key))
        previous = latest.get((key, row.time_ns))
        if previous is not None:
            # An older copy of the same point: the newest write wins, as in InfluxDB.
            bind.execute(sa.delete(points).where(points.c.id == previous))
        latest[(key, row.time_ns)] = row.id

    with op.batch_alter_table("timeseries_points", schema=None) as batch_op:
        batch_op.alter_column("series_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_timeseries_points_series_key_time_ns"), ["series_key", "time_ns"]
        )

    with op.batch_alter_table("pending_timeseries_writes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    pending = sa.table(
        "pending_timeseries_writes",
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    )
    bind.execute(sa.update(pending).values(next_attempt_at=pending.c.created_at))
    with op.batch_alter_table("pending_timeseries_writes", schema=None) as batch_op:
        batch_op.alter_column(
            "next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_index(
            batch_op.f("ix_pending_timeseries_writes_next_attempt_at"),
            ["next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_timeseries_writes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_timeseries_writes_next_attempt_at"))
        batch_op.drop_column("next_attempt_at")

    with op.batch_alter_table("timeseries_points", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_timeseries_points_series_key_time_ns"), type_="unique"
        )
        batch_op.drop_column("series_key")
