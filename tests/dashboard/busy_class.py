"""A class in full swing, seeded straight into the database: what a teacher sees mid-lesson."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from cellmon.core.database import Database
from cellmon.core.timeseries.base import Point, TimeSeriesSink
from tests.classroom.seed import Seeder, ago, now

ERRORS = [
    "NameError: name 'df' is not defined",
    "TypeError: unsupported operand type(s) for +: 'int' and 'str'",
    "KeyError: 'price'",
    "IndexError: list index out of range",
    "ZeroDivisionError: division by zero",
    "ValueError: could not convert string to float: 'abc'",
]


async def seed_busy_class(
    database: Database, timeseries: TimeSeriesSink, students: int, seed: int = 7
) -> int:
    """Seed `students` students of one class working through two notebooks; return its id."""
    rng = random.Random(seed)
    points: list[Point] = []
    async with database.sessions() as session:
        seeder = Seeder(session)
        klass = await seeder.klass("Data Science 101 — Tuesday lab", "DS101-TUE")
        _, week1 = await seeder.notebook("lessons/week1_pandas.ipynb", 14)
        _, week2 = await seeder.notebook("lessons/week2_plots.ipynb", 8)
        for number in range(1, students + 1):
            roll = rng.random()
            help_at = ago(minutes=rng.uniform(0.3, 9)) if roll < 0.04 else None
            # Active ones well inside the page's 5 min window and idle ones well past it: a
            # loaded machine may take a minute from here to the page, and no student should
            # change state meanwhile.
            last_seen = ago(minutes=rng.uniform(0.05, 2) if roll < 0.8 else rng.uniform(8, 40))
            student = await seeder.student(
                f"student{number:03d}@example.com",
                klass,
                name=f"テスト学生{number:03d}" if number % 3 else f"Student {number:03d}",
                team=f"チーム{(number - 1) // 8 + 1}",
                last_activity_at=last_seen,
                help_requested_at=help_at,
            )
            reached = rng.randint(1, len(week1))
            for index, cell in enumerate(week1[:reached]):
                last = last_seen - timedelta(minutes=(reached - index) * rng.uniform(0.5, 3))
                runs = "s" * rng.randint(1, 3)
                if rng.random() < 0.08 + index * 0.02:
                    runs = "e" * rng.randint(1, 2) + runs
                if index == reached - 1 and 0.04 <= roll < 0.11:
                    runs = "s" + "e" * rng.randint(3, 6)  # stuck on their current cell
                    last = last_seen
                await seeder.runs(student, cell, runs, last, error=rng.choice(ERRORS))
                points.extend(
                    _point(student.email, last - timedelta(seconds=offset * 20), run == "s")
                    for offset, run in enumerate(reversed(runs))
                )
            if reached == len(week1) and rng.random() < 0.5:
                await seeder.runs(student, week2[0], "s", last_seen)
        await session.commit()
        class_id = klass.id
    for first in range(0, len(points), 1000):
        await timeseries.write(points[first : first + 1000])
    return class_id


def _point(email: str, moment: datetime, success: bool) -> Point:
    return Point(
        measurement="student_progress",
        tags={"userId": email, "event": "cell_executed"},
        fields={"success": success},
        time_ns=int(min(moment, now()).timestamp() * 1_000_000) * 1000,
    )
