"""`DELETE /students/{student_id}`: erase a student and everything recorded about them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import StringConstraints

from cellmon.auth.deps import AdminUser
from cellmon.core.api_types import NO_NUL, PathId, responses
from cellmon.core.deps import BusDep, DatabaseDep, TimeSeriesDep
from cellmon.erasure import service
from cellmon.erasure.schemas import ErasureReport

router = APIRouter(prefix="/students", tags=["students"])

# Stored e-mail addresses are trimmed and lower-cased; the one given here is made alike.
RepeatEmail = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=320),
    NO_NUL,
]


@router.delete(
    "/{student_id}",
    response_model=ErasureReport,
    summary="Erase a student and everything recorded about them (admins)",
    description=(
        "Deletes the student, their sessions, cell executions and cell states, notebook "
        "accesses, progress events (help history included), enrollments, submissions, "
        "time-series points, dead-lettered and test events carrying their address, and a "
        "student account with that address, whose open /ws sockets are closed. The answer "
        "counts each kind. When the "
        "time-series store cannot be reached, the rest is deleted, `complete` is false, and "
        "repeating the request with `?email=` (the student's address) once the store is "
        "back deletes the points: the student row is gone by then. An `email` that is not "
        "the student's address is a 422."
    ),
    responses=responses(
        not_found=service.NO_STUDENT,
        conflict="On a repeat: the address belongs to a student recreated since.",
    ),
)
async def erase_student(
    student_id: PathId,
    database: DatabaseDep,
    timeseries: TimeSeriesDep,
    bus: BusDep,
    admin: AdminUser,
    email: Annotated[
        RepeatEmail | None,
        Query(description="The student's address: finishes an erasure that left points."),
    ] = None,
) -> ErasureReport:
    try:
        return await service.erase_student(database, timeseries, bus, admin, student_id, email)
    except service.AddressMismatch as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
