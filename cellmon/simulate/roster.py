"""Who is in the simulated class: names (Japanese, others, a few very long ones), teams, when
each student joins, who gets stuck and who asks for help. Pure: one seeded `random.Random`."""

from __future__ import annotations

import random
from dataclasses import dataclass

FAMILY_NAMES = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
    "吉田", "山田", "佐々木", "松本", "井上", "木村", "林", "斎藤", "清水", "山口",
)  # fmt: skip
GIVEN_NAMES = (
    "陽翔", "蓮", "悠真", "湊", "結衣", "陽葵", "凛", "芽依", "美咲", "大翔",
    "葵", "さくら", "翔太", "花子", "太郎", "優奈", "健", "彩", "拓海", "七海",
)  # fmt: skip
OTHER_GIVEN_NAMES = (
    "Emma", "Li", "Olivia", "Mateo", "Aarav", "Chloé", "Min-jun", "Lucas", "Sofia", "Omar",
    "Ana", "Thanh",
)  # fmt: skip
OTHER_FAMILY_NAMES = (
    "Schmidt", "Wei", "Brown", "García", "Patel", "Martin", "Kim", "Nguyễn", "Silva", "Rossi",
    "Haddad", "Kowalski",
)  # fmt: skip
# Names that test the dashboard's layout: long in characters, in width, or without spaces.
LONG_NAMES = (
    "Maria Fernanda de los Ángeles Guadalupe Rodríguez-Hernández y Villaseñor",
    "寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末食う寝る処に住む処",
    "Wolfeschlegelsteinhausenbergerdorff Hubert Blaine Wolfeschlegelsteinhausen",
    "Kamalei Kaʻiulani Keakealani-Kahananui Nāmakaokaʻī o Kalākaua",
)
TEAM_SIZE = 8

# Shares of the class, each an exact count (rounded) so that a seed gives a known class.
OTHER_NAME_SHARE = 0.1
LONG_NAME_SHARE = 0.03
LATE_SHARE = 0.1
STUCK_SHARE = 0.04
QUESTION_SHARE = 0.03
# Of the stuck students, these ask for help (the others sit it out).
STUCK_ASKING_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class SimulatedStudent:
    number: int
    email: str
    name: str
    team: str
    joins_at: float  # seconds into the lesson
    late: bool
    # The lesson's cell (an index into lesson.NOTEBOOK) the student gets stuck on, and for
    # how long every run of it fails; None for most students.
    stuck_on: int | None
    stuck_seconds: float
    asks_help_when_stuck: bool
    # A help request without being stuck (a question): when it is switched on, for how long.
    question_at: float | None
    question_seconds: float


def student_email(number: int) -> str:
    return f"student{number:03d}@example.com"


def _shared(rng: random.Random, numbers: list[int], share: float, of: int) -> set[int]:
    """round(share × `of`) students (at least one) drawn from `numbers`."""
    return set(rng.sample(numbers, min(max(1, round(share * of)), len(numbers))))


def _name(rng: random.Random, other: bool, long: bool) -> str:
    if long:
        return rng.choice(LONG_NAMES)
    if other:
        return f"{rng.choice(OTHER_GIVEN_NAMES)} {rng.choice(OTHER_FAMILY_NAMES)}"
    return f"{rng.choice(FAMILY_NAMES)} {rng.choice(GIVEN_NAMES)}"


def make_roster(
    rng: random.Random, students: int, duration: float, stuck_cells: list[int]
) -> tuple[SimulatedStudent, ...]:
    """The class: students 1..`students` in a lesson of `duration` seconds; stuck students
    are stuck on one of `stuck_cells`, cells they reach early enough to be seen stuck."""
    numbers = list(range(1, students + 1))
    long_named = _shared(rng, numbers, LONG_NAME_SHARE, students)
    others = [n for n in numbers if n not in long_named]
    other_named = _shared(rng, others, OTHER_NAME_SHARE, students)
    late = _shared(rng, numbers, LATE_SHARE, students) if students > 1 else set()
    on_time = [n for n in numbers if n not in late]
    stuck = _shared(rng, on_time, STUCK_SHARE, students)
    asking = _shared(rng, sorted(stuck), STUCK_ASKING_SHARE, len(stuck))
    calm = [n for n in on_time if n not in stuck]
    questions = _shared(rng, calm, QUESTION_SHARE, students) if calm else set()
    roster = []
    for number in numbers:
        joins_at = (
            rng.uniform(0.15, 0.6) * duration
            if number in late
            else rng.uniform(0, min(60.0, 0.1 * duration))
        )
        roster.append(
            SimulatedStudent(
                number=number,
                email=student_email(number),
                name=_name(rng, number in other_named, number in long_named),
                team=f"チーム{(number - 1) // TEAM_SIZE + 1}",
                joins_at=joins_at,
                late=number in late,
                stuck_on=rng.choice(stuck_cells) if number in stuck else None,
                stuck_seconds=rng.uniform(120, 300),
                asks_help_when_stuck=number in asking,
                question_at=(
                    rng.uniform(joins_at, max(joins_at, 0.8 * duration))
                    if number in questions
                    else None
                ),
                question_seconds=rng.uniform(20, 60),
            )
        )
    return tuple(roster)
