"""What a signed-in account may read and change, as SQL conditions the repositories add.

- An admin sees and changes everything.
- An instructor sees the classes it teaches (class_instructors), the students enrolled in
  them and everything recorded about those students, and changes what those classes hold.
- A student sees its own student record (the one with its account's e-mail address), what was
  recorded about it, the classes it is enrolled in and their assignments.

Anything else does not exist for the asker: a request for it answers 404, exactly as for an
id that does not exist, so ids of other classes tell nothing.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, exists, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cellmon.auth.principal import Principal, Role
from cellmon.core.errors import NotFoundError
from cellmon.db.models import Class, ClassInstructor, Student, StudentClass

IdColumn = InstrumentedAttribute[int] | ColumnElement[int]


class Access:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def _taught_class_ids(self) -> Select[int]:
        return select(ClassInstructor.class_id).where(
            ClassInstructor.user_id == self.principal.user_id
        )

    def own_student_ids(self) -> Select[int]:
        """The student record of a student account (none or one)."""
        return select(Student.id).where(Student.email == self.principal.email)

    def classes(self, class_id: IdColumn) -> ColumnElement[bool]:
        """Classes whose data the principal may read."""
        role = self.principal.role
        if role is Role.ADMIN:
            return true()
        if role is Role.INSTRUCTOR:
            return class_id.in_(self._taught_class_ids())
        return class_id.in_(
            select(StudentClass.class_id).where(StudentClass.student_id.in_(self.own_student_ids()))
        )

    def taught_classes(self, class_id: IdColumn) -> ColumnElement[bool]:
        """Classes the principal may change: an admin's all, an instructor's own, no student's."""
        role = self.principal.role
        if role is Role.ADMIN:
            return true()
        if role is Role.INSTRUCTOR:
            return class_id.in_(self._taught_class_ids())
        return false()

    def students(self, student_id: IdColumn) -> ColumnElement[bool]:
        """Students whose records the principal may read (an instructor's: those enrolled in a
        class it teaches)."""
        role = self.principal.role
        if role is Role.ADMIN:
            return true()
        if role is Role.INSTRUCTOR:
            return student_id.in_(
                select(StudentClass.student_id).where(
                    StudentClass.class_id.in_(self._taught_class_ids())
                )
            )
        return student_id.in_(self.own_student_ids())

    def taught_students(self, student_id: IdColumn) -> ColumnElement[bool]:
        """Students whose records the principal may change: none for a student account."""
        if self.principal.role is Role.STUDENT:
            return false()
        return self.students(student_id)

    async def require_class(
        self, session: AsyncSession, class_id: int, *, teach: bool = False
    ) -> None:
        """404 unless the principal may read (or with `teach`, change) the class."""
        rule = self.taught_classes(Class.id) if teach else self.classes(Class.id)
        if not await session.scalar(select(exists().where(Class.id == class_id, rule))):
            raise NotFoundError(f"class {class_id} does not exist")

    async def require_student(
        self, session: AsyncSession, student_id: int, *, teach: bool = False
    ) -> None:
        """404 unless the principal may read (or with `teach`, change) the student's records."""
        rule = self.taught_students(Student.id) if teach else self.students(Student.id)
        if not await session.scalar(select(exists().where(Student.id == student_id, rule))):
            raise NotFoundError(f"student {student_id} does not exist")

    async def own_student_id(self, session: AsyncSession) -> int | None:
        """A student account's student record, if events or an instructor created one."""
        student_id: int | None = await session.scalar(self.own_student_ids())
        return student_id
