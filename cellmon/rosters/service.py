"""Importing a class's roster: the missing students created and everyone enrolled, in one
request, one transaction and a handful of statements, with a report of what each row became.

Each row is checked as `POST /students` checks a student (one definition: StudentCreate); a
row that fails is reported and skipped, the others are imported. An import is idempotent:
students that exist are enrolled as they are (their name and team left unchanged), and
enrolled ones are reported as such, so importing a corrected file again changes only what
was missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.audit import service as audit
from cellmon.auth.access import Access
from cellmon.classes import service as classes
from cellmon.core.errors import ConflictError
from cellmon.core.unit_of_work import refused_as
from cellmon.rosters import repository
from cellmon.rosters.csv_reader import RosterRow, check_length, read_roster
from cellmon.rosters.schemas import (
    RosterEntry,
    RosterImportReport,
    RosterOutcome,
    RosterRowReport,
)
from cellmon.students.schemas import StudentCreate

# An address in a row's report is echoed only up to this length.
_ECHOED_EMAIL = 320


async def import_entries(
    session: AsyncSession, access: Access, class_id: int, entries: Sequence[RosterEntry]
) -> RosterImportReport:
    await classes.get_class(session, access, class_id, teach=True)
    check_length(len(entries))
    rows = [
        RosterRow(position, entry.email, entry.name, entry.team_name)
        for position, entry in enumerate(entries, start=1)
    ]
    return await _import(session, access, class_id, rows, [], source="json")


async def import_csv(
    session: AsyncSession, access: Access, class_id: int, body: bytes, charset: str | None
) -> RosterImportReport:
    await classes.get_class(session, access, class_id, teach=True)
    roster = read_roster(body, charset)
    return await _import(
        session, access, class_id, roster.rows, roster.ignored_columns, source="csv"
    )


async def _import(
    session: AsyncSession,
    access: Access,
    class_id: int,
    rows: Sequence[RosterRow],
    ignored_columns: list[str],
    *,
    source: str,
) -> RosterImportReport:
    reports: list[RosterRowReport | None] = [None] * len(rows)
    wanted: dict[str, tuple[int, StudentCreate]] = {}
    for index, row in enumerate(rows):
        student, problem = _checked(row)
        if student is not None and student.email in wanted:
            problem = f"the same e-mail address as row {rows[wanted[student.email][0]].row}"
        if student is None or problem is not None:
            reports[index] = _report(row, RosterOutcome.ERROR, error=problem)
            continue
        wanted[student.email] = (index, student)

    dialect = await repository.dialect_of(session)
    # Reads first, writes after: a SQLite transaction that read before it writes fails at
    # once when another wrote meanwhile, where one that starts by writing waits its turn.
    ids = await repository.student_ids(session, wanted)
    enrolled_before = await repository.enrolled(session, class_id, ids.values())
    missing = [wanted[email][1] for email in wanted if email not in ids]
    deleted_meanwhile = ConflictError(
        f"class {class_id} was deleted, or one of the students erased, during the import; "
        "import the roster again"
    )
    async with refused_as(session, deleted_meanwhile):
        created = await repository.insert_students(
            session, dialect, [student.model_dump() for student in missing]
        )
        ids |= created
        # Created meanwhile by another request or the ingest worker.
        raced = [student.email for student in missing if student.email not in created]
        ids |= await repository.student_ids(session, raced)
        if len(ids) < len(wanted):
            raise deleted_meanwhile
        # Those enrolled meanwhile are left out by the statement itself.
        newly_enrolled = await repository.enroll(
            session, dialect, class_id, set(ids.values()) - enrolled_before
        )

    for email, (index, _student) in wanted.items():
        student_id = ids[email]
        if email in created:
            outcome = RosterOutcome.CREATED
        elif student_id in newly_enrolled:
            outcome = RosterOutcome.ENROLLED
        else:
            outcome = RosterOutcome.ALREADY_ENROLLED
        reports[index] = _report(rows[index], outcome, email=email, student_id=student_id)
    results = [report for report in reports if report is not None]
    counts = Counter(report.outcome for report in results)
    summary = RosterImportReport(
        class_id=class_id,
        rows=len(rows),
        created=counts[RosterOutcome.CREATED],
        enrolled=counts[RosterOutcome.ENROLLED],
        already_enrolled=counts[RosterOutcome.ALREADY_ENROLLED],
        errors=counts[RosterOutcome.ERROR],
        changed=bool(created or newly_enrolled),
        ignored_columns=ignored_columns,
        results=results,
    )
    if summary.changed:
        # Counts only: the trail outlives an erased student's address.
        await audit.record(
            session,
            access.principal,
            "class.roster_import",
            "class",
            class_id,
            source=source,
            **summary.model_dump(include={"rows", "created", "enrolled", "errors"}),
        )
    return summary


def _checked(row: RosterRow) -> tuple[StudentCreate | None, str | None]:
    """The row as a student to create, or what is wrong with it."""
    if row.email is None or not row.email.strip():
        return None, "no e-mail address"
    try:
        student = StudentCreate(
            email=row.email, name=_blank_as_none(row.name), team_name=_blank_as_none(row.team_name)
        )
    except ValidationError as exc:
        return None, "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
    return student, None


def _blank_as_none(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def _report(
    row: RosterRow,
    outcome: RosterOutcome,
    *,
    email: str | None = None,
    student_id: int | None = None,
    error: str | None = None,
) -> RosterRowReport:
    if email is None and row.email is not None:
        email = row.email[:_ECHOED_EMAIL]
    return RosterRowReport(
        row=row.row, email=email, outcome=outcome, student_id=student_id, error=error
    )
