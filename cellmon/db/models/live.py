"""The live updates' one order (live/positions.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from cellmon.db.base import Base


class LivePosition(Base):
    """One row, id 1: the position of the last committed change that live messages told of.

    Every transaction that publishes messages changing what a class read-out shows counts it
    up as its last statement, so that the row's lock orders those transactions' commits and a
    read-out taken in one snapshot knows exactly which messages it includes."""

    __tablename__ = "live_position"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger)
