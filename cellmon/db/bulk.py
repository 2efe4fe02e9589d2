"""Set-based statements of many rows at once, on PostgreSQL and SQLite alike.

`insert_many` builds an INSERT of any number of rows (to which a caller adds its ON CONFLICT
and RETURNING), `execute_many` runs it for a list of dicts; `unnested` joins a query with the
values of one array parameter (PostgreSQL); `later` and `earlier` merge nullable timestamps
in an upsert. Statements are built once per table and columns, here and by their callers
(`functools.cache`): one built again for every batch cost SQLAlchemy its construction and
cache key each time.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from typing import cast as cast_type

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Executable,
    Result,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import TableValuedAlias

# The columns of the rows a statement inserts, in order.
Columns = tuple[str, ...]


@functools.cache
def insert_many(dialect: str, table: Table, columns: Columns) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of many rows in one statement, without its values (see `execute_many`).

    On PostgreSQL the rows travel as one JSON array of objects, encoded by orjson in C and
    unpacked by the server, under one constant statement text. As one array per column,
    asyncpg checked each element's type through `collections.abc` and built each timestamp
    in Python: that cost the worker more (7 CPU-us per execution's row, against 2.5) than
    binary values save the server (18 against 20). On SQLite they go as a multi-row VALUES
    (see `_SqliteInsert`).
    """
    if dialect != "postgresql":
        return sqlite.insert(table)
    rows = bindparam("rows", type_=Text())
    # A column definition list gives each value its column's type, as the server reads it.
    records = (
        func.json_to_recordset(cast(rows, JSON()))
        .table_valued(*(column(name, table.c[name].type) for name in columns))
        .render_derived("rows", with_types=True)
    )
    return postgresql.insert(table).from_select(list(columns), select(*records.c))


async def execute_many(
    session: AsyncSession, dialect: str, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> Result[*tuple[Any, ...]]:
    """Run a statement built on `insert_many` for rows (dicts) that all have its columns."""
    if dialect == "postgresql":
        return await session.execute(statement, {"rows": orjson.dumps(rows).decode()})
    connection = await session.connection()
    insert = _SqliteInsert.of(statement, connection.dialect, tuple(rows[0]))
    results = [
        await connection.exec_driver_sql(insert.sql(len(chunk)), insert.parameters(chunk))
        for chunk in insert.chunks(rows)
    ]
    first, *others = results
    return first.merge(*others) if others else first


class _SqliteInsert:
    """A statement built on `insert_many`, in sqlite3's own SQL, for any number of rows.

    SQLAlchemy's executemany turned each row into parameters in Python (a dict per row, a
    call per value): 3 of the 19 CPU-us an execution's row cost. Here a row is its values
    in column order, only timestamps (and booleans) converted as SQLAlchemy would, and
    SQLAlchemy is left only the statement's execution. What RETURNING gives comes back as
    sqlite3 reads it, so only columns that need no conversion (ids, text) may be returned.
    """

    def __init__(self, statement: Executable, dialect: Dialect, columns: Columns) -> None:
        compiled = cast_type(
            SQLCompiler,
            cast_type(ClauseElement, statement).compile(dialect=dialect, column_keys=list(columns)),
        )
        if tuple(compiled.positiontup or ()) != columns:
            raise ValueError(f"a statement built on insert_many binds only its rows: {compiled}")
        values = "(" + ", ".join(["?"] * len(columns)) + ")"
        self._head, separator, self._tail = str(compiled).partition(f" VALUES {values}")
        if not separator:
            raise ValueError(f"no VALUES of one row in {compiled}")
        for returned in compiled.effective_returning or ():
            if returned.type.dialect_impl(dialect).result_processor(dialect, None):
                raise ValueError(f"{returned} would come back unconverted from {compiled}")
        self._values = values
        table: Table = statement.table  # type: ignore[attr-defined]
        self._columns = columns
        self._conversions = [
            (index, processor)
            for index, name in enumerate(columns)
            if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        ]
        # As many rows per statement as SQLite's limit on parameters allows
        # (SQLITE_MAX_VARIABLE_NUMBER since 3.32): statements of fewer rows cost more in all.
        self._chunk_rows = max(1, 32766 // len(columns))

    @staticmethod
    @functools.cache
    def of(statement: Executable, dialect: Dialect, columns: Columns) -> _SqliteInsert:
        return _SqliteInsert(statement, dialect, columns)

    def chunks(self, rows: Sequence[Mapping[str, Any]]) -> Iterator[Sequence[Mapping[str, Any]]]:
        for start in range(0, len(rows), self._chunk_rows):
            yield rows[start : start + self._chunk_rows]

    def sql(self, row_count: int) -> str:
        return f"{self._head} VALUES {', '.join([self._values] * row_count)}{self._tail}"

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
        values_of = operator.itemgetter(*self._columns)
        parameters: list[Any] = []
        for row in rows:
            values = list(values_of(row)) if len(self._columns) > 1 else [values_of(row)]
            for index, convert in self._conversions:
                values[index] = convert(values[index])
            parameters += values
        # A tuple: a list would be taken for many executions' parameters.
        return tuple(parameters)


def unnested(name: str, column: ColumnElement[Any]) -> TableValuedAlias:
    """PostgreSQL: the values of the array parameter `name` as rows (column `key`), to join with.

    One array keeps the statement's text (and the server's prepared plan) the same for any
    number of values. Joined rather than compared with `= ANY(array)`: a generic plan that
    scans the table evaluated the array (and its cast to the column's type) again for every
    row and compared every row with every value, which cost PostgreSQL more than all of a
    batch's writes.
    """
    array = bindparam(name, type_=ARRAY(column.type))
    return func.unnest(array).table_valued("key").render_derived(name=f"wanted_{name}")


def later(current: ColumnElement[Any], incoming: ColumnElement[Any]) -> ColumnElement[Any]:
    """The later of two nullable timestamps (GREATEST does not exist on SQLite)."""
    return case(
        (current.is_(None), incoming),
        (and_(incoming.is_not(None), incoming > current), incoming),
        else_=current,
    )


def earlier(current: ColumnElement[Any], incoming: ColumnElement[Any]) -> ColumnElement[Any]:
    """The earlier of two nullable timestamps."""
    return case(
        (current.is_(None), incoming),
        (and_(incoming.is_not(None), incoming < current), incoming),
        else_=current,
    )
