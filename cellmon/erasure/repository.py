"""The SQL side of an erasure: every row about one student, found by id or by e-mail address.

Each table is deleted from explicitly, children before parents, rather than left to
`ON DELETE CASCADE`: not every key cascades (migration 0003 dropped three of cell_executions'
keys), SQLite enforces keys only with its `foreign_keys` pragma, and the answer counts each
kind of record.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Delete, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.models import (
    AssignmentSubmission,
    AuditEntry,
    CellExecution,
    DeadLetter,
    NotebookAccess,
    ProgressEvent,
    Student,
    StudentCellState,
    StudentClass,
    StudentSession,
    TestEvent,
    User,
)

STUDENT_ROLE = "student"
# Dead letters are read in chunks of this many rows, to look into their bodies.
SCAN_CHUNK = 500


async def find_student(session: AsyncSession, student_id: int) -> Student | None:
    return await session.get(Student, student_id)


async def student_id_with_email(session: AsyncSession, email: str) -> int | None:
    found: int | None = await session.scalar(select(Student.id).where(Student.email == email))
    return found


async def _count(session: AsyncSession, statement: Delete) -> int:
    result = await session.execute(statement)
    deleted: int = result.rowcount  # type: ignore[attr-defined]
    return deleted


async def delete_student_rows(session: AsyncSession, student_id: int) -> dict[str, int]:
    """The student row and every row that names the student's id; counts per kind."""
    # The rows that refer to sessions go before the sessions (no SET NULL to run), and
    # everything before the student.
    by_student = (
        ("cell_executions", CellExecution.student_id),
        ("cell_states", StudentCellState.student_id),
        ("notebook_accesses", NotebookAccess.student_id),
        ("progress_events", ProgressEvent.student_id),
        ("enrollments", StudentClass.student_id),
        ("submissions", AssignmentSubmission.student_id),
        ("sessions", StudentSession.student_id),
    )
    counts = {
        kind: await _count(session, delete(column.class_).where(column == student_id))
        for kind, column in by_student
    }
    counts["students"] = await _count(session, delete(Student).where(Student.id == student_id))
    return counts


async def delete_account(session: AsyncSession, email: str) -> tuple[list[int], int]:
    """The student account with this address, and the audit trail's mentions of it (the
    entries stay, their actor unnamed); the accounts' ids and how many entries."""
    account = select(User.id).where(User.email == email, User.role == STUDENT_ROLE)
    account_ids = list((await session.scalars(account)).all())
    unnamed = await session.execute(
        update(AuditEntry)
        .where((AuditEntry.actor_email == email) | AuditEntry.actor_id.in_(account_ids))
        .values(actor_id=None, actor_email=None)
    )
    await session.execute(delete(User).where(User.id.in_(account_ids)))
    entries: int = unnamed.rowcount  # type: ignore[attr-defined]
    return account_ids, entries


def _names(document: Any, email: str) -> bool:
    """Whether an event (the client's JSON) is one of the student's."""
    if not isinstance(document, dict):
        return False
    address = document.get("emailAddress")
    return isinstance(address, str) and address.strip().lower() == email


def _event_of(text: bytes | str, email: str) -> bool:
    try:
        return _names(orjson.loads(text), email)
    except orjson.JSONDecodeError:
        # Not JSON: nothing says whose it is.
        return False


async def delete_dead_letters(session: AsyncSession, email: str) -> int:
    """Dead letters whose event carries the address. Each holds one event (or a body that
    is not JSON, which cannot be told apart and stays)."""
    deleted = 0
    last_id = 0
    while True:
        chunk = (
            await session.execute(
                select(DeadLetter.id, DeadLetter.body)
                .where(DeadLetter.id > last_id)
                .order_by(DeadLetter.id)
                .limit(SCAN_CHUNK)
            )
        ).all()
        if not chunk:
            return deleted
        matching = [row_id for row_id, body in chunk if _event_of(body, email)]
        if matching:
            deleted += await _count(session, delete(DeadLetter).where(DeadLetter.id.in_(matching)))
        last_id = chunk[-1][0]


async def delete_test_events(session: AsyncSession, email: str) -> int:
    """Test events whose event carries the address (the table holds minutes of them)."""
    rows = (await session.execute(select(TestEvent.id, TestEvent.payload))).all()
    matching = [row_id for row_id, payload in rows if _event_of(payload, email)]
    if not matching:
        return 0
    return await _count(session, delete(TestEvent).where(TestEvent.id.in_(matching)))
