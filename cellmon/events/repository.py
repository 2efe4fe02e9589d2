"""The worker's set-based SQL: one statement per table per batch, never one per event.

Every insert is idempotent: rows keyed by the client's eventId are inserted with ON CONFLICT DO
NOTHING and RETURNING, so only rows that are new in this transaction move counters; upserts
merge with what concurrent workers wrote instead of overwriting it. Rows are sorted by their
key before upserting so that concurrent transactions lock them in the same order.

Rows that many batches share (a student, a session, a student's state on a cell) are locked
only by the merges a batch runs last (batch.close_batch): their ids come first from
`resolve_ids`, which reads existing rows and inserts missing ones with DO NOTHING, neither of
which locks a row another transaction wrote. Two workers' batches over the same students then
overlap for all but their last statements instead of taking turns.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Executable,
    Row,
    Table,
    and_,
    bindparam,
    case,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.db.base import utcnow
from cellmon.db.bulk import Columns, earlier, execute_many, insert_many, later, unnested
from cellmon.db.models import (
    Cell,
    CellExecution,
    Class,
    DeadLetter,
    Notebook,
    NotebookAccess,
    ProgressEvent,
    Student,
    StudentCellState,
    StudentClass,
    StudentSession,
)

STUDENTS: Table = Student.__table__  # type: ignore[assignment]
SESSIONS: Table = StudentSession.__table__  # type: ignore[assignment]
NOTEBOOKS: Table = Notebook.__table__  # type: ignore[assignment]
CELLS: Table = Cell.__table__  # type: ignore[assignment]
EXECUTIONS: Table = CellExecution.__table__  # type: ignore[assignment]
CELL_STATES: Table = StudentCellState.__table__  # type: ignore[assignment]
ACCESSES: Table = NotebookAccess.__table__  # type: ignore[assignment]
PROGRESS_EVENTS: Table = ProgressEvent.__table__  # type: ignore[assignment]
DEAD_LETTERS: Table = DeadLetter.__table__  # type: ignore[assignment]
CLASSES: Table = Class.__table__  # type: ignore[assignment]
ENROLLMENTS: Table = StudentClass.__table__  # type: ignore[assignment]


async def merge_students(
    session: AsyncSession, dialect: str, rows: Sequence[Mapping[str, Any]]
) -> set[int]:
    """Merge a batch's name, team, activity and help state into its students' rows; the ids
    of the students whose help requests an instructor closed since the batch read them.

    A row's help state (help_active, help_requested_at, help_handled_at) applies only when it
    is newer than the stored one, so a late `help` cannot reopen a request closed since. Nor
    does it apply when the stored help_handled_count has moved past the row's (the count the
    batch read): an instructor marked the request handled meanwhile, and the batch's `help`
    events, sent before that, only repeat it. A batch that ends the request (its last help
    event a help_stop) still ends it.
    """
    if not rows:
        return set()
    now = utcnow()
    values = sorted(
        ({**row, "created_at": now, "updated_at": now} for row in rows),
        key=lambda row: row["email"],
    )
    merged = await execute_many(
        session, dialect, _upsert_students(dialect, tuple(values[0])), values
    )
    counts_read = {row["email"]: row["help_handled_count"] for row in rows}
    return {student_id for student_id, email, count in merged if count != counts_read[email]}


@functools.cache
def _upsert_students(dialect: str, columns: Columns) -> Executable:
    insert = insert_many(dialect, STUDENTS, columns)
    stored, incoming = STUDENTS.c, insert.excluded
    help_is_newer = and_(
        incoming.help_last_seen_at.is_not(None),
        or_(
            stored.help_last_seen_at.is_(None),
            incoming.help_last_seen_at >= stored.help_last_seen_at,
        ),
    )
    # The rules are merge_students' docstring. A row closed without being handled is one
    # whose last help event was a help_stop (a repeat of a handled request keeps its time).
    help_applies = and_(
        help_is_newer,
        or_(
            stored.help_handled_count == incoming.help_handled_count,
            and_(not_(incoming.help_active), incoming.help_handled_at.is_(None)),
        ),
    )
    # A request still open keeps the time it was first made.
    requested_at = case(
        (
            and_(incoming.help_active, stored.help_active),
            func.coalesce(stored.help_requested_at, incoming.help_requested_at),
        ),
        else_=incoming.help_requested_at,
    )
    return insert.on_conflict_do_update(
        index_elements=[stored.email],
        set_={
            "name": func.coalesce(incoming.name, stored.name),
            "team_name": func.coalesce(incoming.team_name, stored.team_name),
            "last_activity_at": later(stored.last_activity_at, incoming.last_activity_at),
            "help_active": case((help_applies, incoming.help_active), else_=stored.help_active),
            "help_requested_at": case((help_applies, requested_at), else_=stored.help_requested_at),
            "help_last_seen_at": later(stored.help_last_seen_at, incoming.help_last_seen_at),
            "help_handled_at": case(
                (help_applies, incoming.help_handled_at), else_=stored.help_handled_at
            ),
            "updated_at": incoming.updated_at,
        },
    ).returning(stored.id, stored.email, stored.help_handled_count)


async def merge_sessions(
    session: AsyncSession, dialect: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Merge a batch's sessions: first and last seen widened, ended_at kept once set."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda row: row["client_session_id"])
    await execute_many(session, dialect, _upsert_sessions(dialect, tuple(rows[0])), ordered)


@functools.cache
def _upsert_sessions(dialect: str, columns: Columns) -> Executable:
    insert = insert_many(dialect, SESSIONS, columns)
    stored, incoming = SESSIONS.c, insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[stored.client_session_id],
        set_={
            "started_at": earlier(stored.started_at, incoming.started_at),
            "last_seen_at": later(stored.last_seen_at, incoming.last_seen_at),
            "ended_at": later(stored.ended_at, incoming.ended_at),
        },
    )


async def resolve_ids(
    session: AsyncSession,
    dialect: str,
    table: Table,
    key: str,
    rows: Sequence[Mapping[str, Any]],
    stored_columns: Columns = (),
) -> tuple[dict[Any, int], dict[Any, Row[Any]]]:
    """Ids of the rows by their unique `key`; and by key, the `stored_columns` of the rows
    that existed before this call (the others are the given rows, created by it).

    Existing rows are read; missing ones are inserted as given, with ON CONFLICT DO NOTHING:
    neither locks a row that another transaction wrote (an insert only waits for another
    transaction inserting the same key, then reads its row). An existing row is left as it was.
    """
    if not rows:
        return {}, {}
    statement = _select_stored(dialect, table, key, stored_columns)
    stored = await _stored_rows(session, dialect, statement, [row[key] for row in rows])
    ids = {found_key: row.id for found_key, row in stored.items()}
    missing = sorted((row for row in rows if row[key] not in stored), key=lambda row: row[key])
    if not missing:
        return ids, stored
    insert = _insert_new(dialect, table, key, tuple(missing[0]))
    result = await execute_many(session, dialect, insert, missing)
    created: dict[Any, int] = dict(result.all())
    ids.update(created)
    # Those another worker created meanwhile.
    if len(created) < len(missing):
        lost = [row[key] for row in missing if row[key] not in created]
        raced = await _stored_rows(session, dialect, statement, lost)
        stored.update(raced)
        ids.update({found_key: row.id for found_key, row in raced.items()})
    return ids, stored


@functools.cache
def _insert_new(dialect: str, table: Table, key: str, columns: Columns) -> Executable:
    return (
        insert_many(dialect, table, columns)
        .on_conflict_do_nothing(index_elements=[table.c[key]])
        .returning(table.c[key], table.c.id)
    )


async def _stored_rows(
    session: AsyncSession, dialect: str, statement: Executable, keys: Sequence[Any]
) -> dict[Any, Row[Any]]:
    result = await session.execute(statement, {"keys": sorted(set(keys))})
    return {row[0]: row for row in result.all()}


@functools.cache
def _select_stored(dialect: str, table: Table, key: str, columns: Columns) -> Executable:
    """The key, id and `columns` of the rows whose key is in `keys` (see `db/bulk.py: unnested`)."""
    column = table.c[key]
    selected = select(column, table.c.id, *(table.c[name] for name in columns))
    if dialect == "postgresql":
        wanted = unnested("keys", column)
        return selected.select_from(table.join(wanted, column == wanted.c.key))
    return selected.where(column.in_(bindparam("keys", expanding=True)))


async def resolve_notebooks(
    session: AsyncSession, dialect: str, paths: Iterable[str]
) -> dict[str, int]:
    """Notebook ids by path, creating the missing ones."""
    now = utcnow()
    rows = [
        {"path": path, "name": _notebook_name(path), "created_at": now, "updated_at": now}
        for path in sorted(set(paths))
    ]
    ids, _ = await resolve_ids(session, dialect, NOTEBOOKS, "path", rows)
    return ids


def _notebook_name(path: str) -> str:
    return (posixpath.basename(path.rstrip("/")) or path)[:255]


# A cell by (notebook id, client cellId); a student's state on a cell by (student id, cell id).
CellKey = tuple[int, str]
StateKey = tuple[int, int]


async def resolve_cells(
    session: AsyncSession, dialect: str, cells: Mapping[CellKey, Mapping[str, Any]]
) -> dict[CellKey, int]:
    """Cell ids by (notebook id, client cellId), creating the missing ones."""
    if not cells:
        return {}
    found = await _cell_ids(session, dialect, list(cells))
    missing = sorted(key for key in cells if key not in found)
    if missing:
        now = utcnow()
        rows = [
            {
                "notebook_id": key[0],
                "client_cell_id": key[1],
                "cell_index": cells[key].get("cell_index"),
                "cell_type": cells[key].get("cell_type"),
                "first_seen_at": now,
            }
            for key in missing
        ]
        result = await execute_many(session, dialect, _insert_cells(dialect, tuple(rows[0])), rows)
        found.update({(row.notebook_id, row.client_cell_id): row.id for row in result.all()})
        if len(found) < len(cells):
            found.update(
                await _cell_ids(session, dialect, [key for key in cells if key not in found])
            )
    return found


@functools.cache
def _insert_cells(dialect: str, columns: Columns) -> Executable:
    return (
        insert_many(dialect, CELLS, columns)
        .on_conflict_do_nothing(index_elements=[CELLS.c.notebook_id, CELLS.c.client_cell_id])
        .returning(CELLS.c.id, CELLS.c.notebook_id, CELLS.c.client_cell_id)
    )


async def _cell_ids(
    session: AsyncSession, dialect: str, keys: Sequence[CellKey]
) -> dict[CellKey, int]:
    if dialect == "postgresql":
        arrays = {"notebook_ids": [key[0] for key in keys], "client_ids": [key[1] for key in keys]}
        result = await session.execute(_select_cells_by_key(), arrays)
        return {(notebook_id, client_id): cell_id for notebook_id, client_id, cell_id in result}
    # SQLite: every cell of the notebooks among every client cellId, then the exact pairs.
    result = await session.execute(
        _select_cells_in(),
        {"notebook_ids": {key[0] for key in keys}, "client_ids": {key[1] for key in keys}},
    )
    wanted = set(keys)
    return {
        (notebook_id, client_id): cell_id
        for notebook_id, client_id, cell_id in result
        if (notebook_id, client_id) in wanted
    }


@functools.cache
def _select_cells_by_key() -> Executable:
    """PostgreSQL: the cells of the (notebook id, client cellId) pairs given as two arrays,
    one statement text for every number of pairs."""
    pairs = (
        func.unnest(
            bindparam("notebook_ids", type_=ARRAY(CELLS.c.notebook_id.type)),
            bindparam("client_ids", type_=ARRAY(CELLS.c.client_cell_id.type)),
        )
        .table_valued("notebook_id", "client_cell_id")
        .render_derived(name="pairs")
    )
    return select(CELLS.c.notebook_id, CELLS.c.client_cell_id, CELLS.c.id).join_from(
        CELLS,
        pairs,
        and_(
            CELLS.c.notebook_id == pairs.c.notebook_id,
            CELLS.c.client_cell_id == pairs.c.client_cell_id,
        ),
    )


@functools.cache
def _select_cells_in() -> Executable:
    return select(CELLS.c.notebook_id, CELLS.c.client_cell_id, CELLS.c.id).where(
        CELLS.c.notebook_id.in_(bindparam("notebook_ids", expanding=True)),
        CELLS.c.client_cell_id.in_(bindparam("client_ids", expanding=True)),
    )


async def insert_executions(
    session: AsyncSession, dialect: str, rows: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Execution ids by eventId, for the rows that were not recorded before."""
    if not rows:
        return {}
    statement = _insert_executions(dialect, tuple(rows[0]))
    result = await execute_many(session, dialect, statement, rows)
    return {event_id: execution_id for execution_id, event_id in result.all()}


@functools.cache
def _insert_executions(dialect: str, columns: Columns) -> Executable:
    return (
        insert_many(dialect, EXECUTIONS, columns)
        .on_conflict_do_nothing(index_elements=[EXECUTIONS.c.event_id])
        .returning(EXECUTIONS.c.id, EXECUTIONS.c.event_id)
    )


async def update_cell_states(
    session: AsyncSession, dialect: str, rows: Sequence[Mapping[str, Any]]
) -> dict[StateKey, int]:
    """Add a batch's new executions to each (student, cell)'s totals; the new error streaks.

    Each row sums the batch for one student and cell: `consecutive_errors` is the run of
    errors that ends the batch, equal to `executions` when every execution failed, in which
    case it continues the stored run instead of replacing it.
    """
    if not rows:
        return {}
    ordered = sorted(rows, key=lambda row: (row["student_id"], row["cell_id"]))
    statement = _update_cell_states(dialect, tuple(rows[0]))
    result = await execute_many(session, dialect, statement, ordered)
    return {(student_id, cell_id): streak for student_id, cell_id, streak in result.all()}


@functools.cache
def _update_cell_states(dialect: str, columns: Columns) -> Executable:
    insert = insert_many(dialect, CELL_STATES, columns)
    stored, incoming = CELL_STATES.c, insert.excluded
    is_newer = incoming.last_event_time >= stored.last_event_time
    return insert.on_conflict_do_update(
        index_elements=[stored.student_id, stored.cell_id],
        set_={
            "executions": stored.executions + incoming.executions,
            "errors": stored.errors + incoming.errors,
            "consecutive_errors": case(
                (
                    incoming.consecutive_errors == incoming.executions,
                    stored.consecutive_errors + incoming.consecutive_errors,
                ),
                else_=incoming.consecutive_errors,
            ),
            "last_status": case((is_newer, incoming.last_status), else_=stored.last_status),
            "last_error_message": case(
                (is_newer, incoming.last_error_message), else_=stored.last_error_message
            ),
            "last_event_time": later(stored.last_event_time, incoming.last_event_time),
        },
    ).returning(stored.student_id, stored.cell_id, stored.consecutive_errors)


async def insert_accesses(
    session: AsyncSession, dialect: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    if rows:
        await execute_many(session, dialect, _insert_accesses(dialect, tuple(rows[0])), rows)


@functools.cache
def _insert_accesses(dialect: str, columns: Columns) -> Executable:
    return insert_many(dialect, ACCESSES, columns).on_conflict_do_nothing(
        index_elements=[ACCESSES.c.event_id]
    )


async def insert_progress_events(
    session: AsyncSession, dialect: str, rows: Sequence[Mapping[str, Any]]
) -> set[str]:
    """The eventIds of the rows that were not recorded before."""
    if not rows:
        return set()
    statement = _insert_progress_events(dialect, tuple(rows[0]))
    result = await execute_many(session, dialect, statement, rows)
    return set(result.scalars().all())


@functools.cache
def _insert_progress_events(dialect: str, columns: Columns) -> Executable:
    return (
        insert_many(dialect, PROGRESS_EVENTS, columns)
        .on_conflict_do_nothing(index_elements=[PROGRESS_EVENTS.c.event_id])
        .returning(PROGRESS_EVENTS.c.event_id)
    )


async def enrollments(
    session: AsyncSession, dialect: str, student_ids: Iterable[int]
) -> dict[int, list[int]]:
    """Class ids of each student."""
    ids = sorted(set(student_ids))
    if not ids:
        return {}
    result = await session.execute(_select_enrollments(dialect), {"ids": ids})
    classes: dict[int, list[int]] = {}
    for student_id, class_id in result.all():
        classes.setdefault(student_id, []).append(class_id)
    return classes


@functools.cache
def _select_enrollments(dialect: str) -> Executable:
    statement = select(StudentClass.student_id, StudentClass.class_id).order_by(
        StudentClass.student_id, StudentClass.class_id
    )
    if dialect == "postgresql":
        wanted = unnested("ids", StudentClass.__table__.c.student_id)
        return statement.join(wanted, StudentClass.student_id == wanted.c.key)
    return statement.where(StudentClass.student_id.in_(bindparam("ids", expanding=True)))


async def enroll(session: AsyncSession, dialect: str, pairs: Iterable[tuple[int, int]]) -> None:
    """Enroll each (student id, class id) not enrolled yet; a class deleted since its key was
    checked is passed over, so its events are recorded without it.

    On PostgreSQL the classes are read FOR KEY SHARE: a class cannot be deleted between this
    read and the insert (its deletion waits for the batch's commit, then takes the new
    enrollments with it). SQLite runs one writing transaction at a time.
    """
    wanted = sorted(set(pairs))
    if not wanted:
        return
    class_ids = sorted({class_id for _, class_id in wanted})
    result = await session.execute(_select_classes(dialect), {"ids": class_ids})
    existing = set(result.scalars())
    now = utcnow()
    rows = [
        {"student_id": student_id, "class_id": class_id, "enrolled_at": now}
        for student_id, class_id in wanted
        if class_id in existing
    ]
    if rows:
        await execute_many(session, dialect, _insert_enrollments(dialect, tuple(rows[0])), rows)


@functools.cache
def _select_classes(dialect: str) -> Executable:
    ids = CLASSES.c.id
    if dialect == "postgresql":
        wanted = unnested("ids", ids)
        return (
            select(ids)
            .join(wanted, ids == wanted.c.key)
            .order_by(ids)
            .with_for_update(key_share=True, of=CLASSES)
        )
    return select(ids).where(ids.in_(bindparam("ids", expanding=True)))


@functools.cache
def _insert_enrollments(dialect: str, columns: Columns) -> Executable:
    return insert_many(dialect, ENROLLMENTS, columns).on_conflict_do_nothing(
        index_elements=[ENROLLMENTS.c.student_id, ENROLLMENTS.c.class_id]
    )


async def insert_dead_letters(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        await session.execute(
            DEAD_LETTERS.insert(), [{**row, "failed_at": utcnow()} for row in rows]
        )
