"""The live position: one order for class read-outs and the live messages that change them.

A dashboard reads the class roster now and then and applies live messages in between. Both
carry a position: a message the position of the committed change it tells of, a read-out
the position of the last change it includes. A transaction that publishes such messages
takes its position as its last statement (`next_position`): the counter row stays locked
until the transaction ends, so positions follow the order of commits, and a read-out taken
in one snapshot (`core.database.snapshot`) that reads position P includes every change of
position up to P and none after it. The page then keeps, for each student, whichever of the
two is newer (cellmon/dashboard/static/rules.js).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import LivePosition

_ROW_ID = 1


async def next_position(session: AsyncSession) -> int:
    """Count the position up in the session's transaction, and answer it. Call it last: the
    counter's row stays locked until the transaction commits or rolls back."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(LivePosition)
        .values(id=_ROW_ID, position=1)
        .on_conflict_do_update(
            index_elements=[LivePosition.id], set_={"position": LivePosition.position + 1}
        )
        .returning(LivePosition.position)
    )
    return int((await session.execute(statement)).scalar_one())


async def current_position(session: AsyncSession) -> int:
    """The position of the last committed change the session's snapshot includes (0: none)."""
    found = await session.scalar(select(LivePosition.position).where(LivePosition.id == _ROW_ID))
    return int(found or 0)
