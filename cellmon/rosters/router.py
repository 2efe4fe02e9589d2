"""`/classes/{class_id}/roster`: enroll a whole roster in one request, as a JSON list or as
the CSV file an LMS exports (its instructors and admins, as enrolling one student)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from cellmon.auth.deps import AccessDep, StaffUser
from cellmon.core.api_types import ErrorMessage, PathId, responses
from cellmon.core.deps import SessionDep
from cellmon.rosters import service
from cellmon.rosters.csv_reader import RosterTooLong, UnreadableRoster
from cellmon.rosters.schemas import MAX_ROSTER_ROWS, RosterEntry, RosterImportReport

router = APIRouter(prefix="/classes/{class_id}/roster", tags=["classes"])

_REPORT = (
    "The answer reports every row: `created` (a new student, enrolled), `enrolled` (an "
    "existing student, enrolled now), `already_enrolled`, or `error` with what is wrong "
    "(the row is skipped; the other rows are imported). Existing students are enrolled as "
    "they are: their name and team do not change. Importing the same roster again changes "
    "nothing (`changed` false). The import is one transaction."
)
_ANSWERS: dict[int | str, dict[str, Any]] = {
    413: {
        "model": ErrorMessage,
        "description": f"More than {MAX_ROSTER_ROWS:,} rows (or a body over "
        "CELLMON_MAX_API_BODY_BYTES).",
    },
    **responses(
        not_found="No class with this id that you teach.",
        conflict="The class was deleted, or a student erased, during the import.",
    ),
}


@router.post(
    "",
    response_model=RosterImportReport,
    summary="Enroll a roster given as JSON, creating the missing students",
    description=f"A list of at most {MAX_ROSTER_ROWS:,} students. " + _REPORT,
    responses=_ANSWERS,
)
async def import_roster(
    class_id: PathId,
    entries: list[RosterEntry],
    session: SessionDep,
    _staff: StaffUser,
    access: AccessDep,
) -> RosterImportReport:
    try:
        return await service.import_entries(session, access, class_id, entries)
    except RosterTooLong as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None


@router.post(
    "/csv",
    response_model=RosterImportReport,
    summary="Enroll a roster given as a CSV file, creating the missing students",
    description=f"The file an LMS or a spreadsheet exports, at most {MAX_ROSTER_ROWS:,} rows "
    "under a header row. Columns are found by their usual names, in English or Japanese: "
    "`email` (also 'Email address', 'メールアドレス'; required), `name` ('Full name', '氏名', "
    "or 'First name' and 'Last name', '姓' and '名'), `team` ('Group', 'グループ'); other "
    "columns are listed in `ignored_columns`. UTF-8 with or without a byte-order mark, "
    "unless Content-Type names another charset; commas, semicolons or tabs. A file that "
    "cannot be read as a roster (no e-mail column, not UTF-8) answers 422. " + _REPORT,
    responses=_ANSWERS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def import_roster_csv(
    class_id: PathId,
    request: Request,
    session: SessionDep,
    _staff: StaffUser,
    access: AccessDep,
) -> RosterImportReport:
    body = await request.body()
    charset = _charset(request.headers.get("content-type", ""))
    try:
        return await service.import_csv(session, access, class_id, body, charset)
    except RosterTooLong as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
    except UnreadableRoster as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None
