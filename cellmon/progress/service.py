"""Progress read-outs, computed from the recorded executions and the per-cell states."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.auth.access import Access
from cellmon.core.errors import NotFoundError
from cellmon.progress import repository
from cellmon.progress.schemas import HelpState, NotebookProgress, StreakCell, StudentProgress


async def student_progress(
    session: AsyncSession, access: Access, student_id: int
) -> StudentProgress:
    """For the student's instructors, the student itself and admins; 404 for anyone else."""
    await access.require_student(session, student_id)
    student = await repository.get_student(session, student_id)
    if student is None:  # erased since the check
        raise NotFoundError(f"student {student_id} does not exist")
    streaks: dict[int, list[StreakCell]] = {}
    for state, client_cell_id, cell_index in await repository.error_streaks(session, student_id):
        streaks.setdefault(state.notebook_id, []).append(
            StreakCell(
                cell_id=state.cell_id,
                client_cell_id=client_cell_id,
                cell_index=cell_index,
                consecutive_errors=state.consecutive_errors,
                last_error_message=state.last_error_message,
                last_event_time=state.last_event_time,
            )
        )
    notebooks = []
    for totals in await repository.notebook_totals(session, student_id):
        cells = streaks.get(totals.notebook_id, [])
        notebooks.append(
            NotebookProgress(
                notebook_id=totals.notebook_id,
                path=totals.path,
                name=totals.name,
                executions=totals.executions,
                errors=totals.errors,
                cells_run=totals.cells_run,
                last_activity_at=totals.last_event_time,
                current_error_streak=max((cell.consecutive_errors for cell in cells), default=0),
                error_streaks=cells,
            )
        )
    return StudentProgress(
        student_id=student.id,
        email=student.email,
        name=student.name,
        team_name=student.team_name,
        last_activity_at=student.last_activity_at,
        help=HelpState(
            active=student.help_active,
            requested_at=student.help_requested_at,
            last_seen_at=student.help_last_seen_at,
            handled_at=student.help_handled_at,
        ),
        notebooks=notebooks,
    )
