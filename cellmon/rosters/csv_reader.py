"""Reading a roster exported from an LMS or a spreadsheet as CSV.

Exports differ in all but the essentials, so the reader is tolerant: UTF-8 with or without a
byte-order mark (or the charset the request names), commas, semicolons or tabs, and the
usual names of each column in English or Japanese, in any case and spacing ("Email address",
"E-mail", "メールアドレス"; "Full name", or "First name" and "Last name", "氏名", "姓" and
"名"; "Group", "Team", "グループ"). Columns it does not keep (a student number, a section) are
reported, not refused.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from cellmon.rosters.schemas import MAX_ROSTER_ROWS


@dataclass(frozen=True)
class RosterRow:
    """One row as given: `row` is its number in the file (or its position in a JSON list)."""

    row: int
    email: str | None
    name: str | None
    team_name: str | None


@dataclass(frozen=True)
class RosterFile:
    rows: list[RosterRow]
    ignored_columns: list[str]


class UnreadableRoster(Exception):
    """The file cannot be read as a roster; the message says why and what would do."""


class RosterTooLong(Exception):
    def __init__(self) -> None:
        super().__init__(
            f"the roster has more than {MAX_ROSTER_ROWS:,} rows; "
            "import it in parts of at most that many"
        )


def check_length(rows: int) -> None:
    if rows > MAX_ROSTER_ROWS:
        raise RosterTooLong


EMAIL, NAME, FIRST_NAME, LAST_NAME, TEAM = "email", "name", "first_name", "last_name", "team"
# Header names as `_header_key` leaves them: NFKC, case-folded, without spaces or -_.:
_COLUMNS = {
    EMAIL: (
        "email",
        "emailaddress",
        "mail",
        "mailaddress",
        "メール",
        "メールアドレス",
        "eメール",
        "eメールアドレス",
        "電子メール",
        "電子メールアドレス",
    ),
    NAME: ("name", "fullname", "studentname", "displayname", "氏名", "名前", "学生氏名"),
    FIRST_NAME: ("firstname", "givenname", "forename", "名"),
    LAST_NAME: ("lastname", "surname", "familyname", "姓"),
    TEAM: (
        "team",
        "teamname",
        "group",
        "groups",
        "groupname",
        "チーム",
        "チーム名",
        "グループ",
        "グループ名",
        "班",
    ),
}
_FIELD_OF = {alias: field for field, aliases in _COLUMNS.items() for alias in aliases}
_SEPARATORS = re.compile(r"[\s\-_.:]+")
_DELIMITERS = (",", ";", "\t")


def _header_key(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).casefold())


def read_roster(body: bytes, charset: str | None = None) -> RosterFile:
    """The rows of a CSV roster whose first non-blank row names the columns; blank rows are
    skipped. Raises UnreadableRoster or RosterTooLong."""
    text = _decoded(body, charset)
    records = _records(text, _delimiter(text))
    header_row, header = next(
        ((row, cells) for row, cells in records if any(cell.strip() for cell in cells)),
        (0, None),
    )
    if header is None:
        raise UnreadableRoster(
            "the file is empty: expected a header row naming the columns, e.g. email,name,team"
        )
    columns, ignored = _columns(header, header_row)
    rows: list[RosterRow] = []
    for row, cells in records:
        values = [cell.strip() for cell in cells]
        if not any(values):
            continue
        check_length(len(rows) + 1)
        field = {name: _cell(values, index) for name, index in columns.items()}
        full_name = field.get(NAME) or joined_name(field.get(FIRST_NAME), field.get(LAST_NAME))
        rows.append(RosterRow(row, field.get(EMAIL), full_name, field.get(TEAM)))
    return RosterFile(rows, ignored)


def _cell(values: list[str], index: int) -> str | None:
    """A row's value in a column, None where blank (or where the row stops short)."""
    return (values[index] if index < len(values) else "") or None


def _decoded(body: bytes, charset: str | None) -> str:
    encoding = "utf-8"
    if charset:
        try:
            encoding = codecs.lookup(charset).name
        except LookupError:
            raise UnreadableRoster(f"unknown charset {charset[:40]!r} in Content-Type") from None
    try:
        return body.decode(encoding).removeprefix("\ufeff")
    except LookupError:
        # A codec Python knows that turns bytes into bytes (base64, zlib, rot13) is no charset.
        raise UnreadableRoster(
            f"charset {encoding!r} in Content-Type is not a text encoding"
        ) from None
    except UnicodeError as exc:
        # Most codecs say where the text breaks; a few (idna, punycode) do not.
        where = f" (byte {exc.start})" if isinstance(exc, UnicodeDecodeError) else ""
        raise UnreadableRoster(
            f"the file is not {encoding.upper()} text{where}; save it as CSV UTF-8 "
            "(Excel: 'CSV UTF-8 (Comma delimited)') or name its charset in Content-Type"
        ) from None


def _delimiter(text: str) -> str:
    """The separator the header uses most: Excel writes semicolons where a comma is the
    decimal mark, and tabs when copied."""
    header = next((line for line in text.split("\n") if line.strip()), "")
    return max(_DELIMITERS, key=header.count)


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with its spreadsheet row number (a quoted line break stays in its row)."""
    # Strict: a quote left open would otherwise take the rest of the file into one cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    row = 0
    while True:
        row += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UnreadableRoster(f"row {row} cannot be read as CSV: {exc}") from None
        yield row, cells


def _columns(header: list[str], header_row: int) -> tuple[dict[str, int], list[str]]:
    """Which column holds each field (the first that names it), and the columns ignored."""
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        field = _FIELD_OF.get(_header_key(title))
        if field is None or field in columns:
            if title.strip():
                ignored.append(title.strip()[:100])
        else:
            columns[field] = index
    if EMAIL not in columns:
        found = ", ".join(repr(title.strip()[:100]) for title in header if title.strip())
        raise UnreadableRoster(
            f"row {header_row}, the header, names no e-mail column (found {found}); name it "
            "'email' (or 'Email address', 'メールアドレス'), with 'name' and 'team' if you have "
            "them"
        )
    return columns, ignored


def joined_name(first: str | None, last: str | None) -> str | None:
    """A full name from its parts: family name first for names in Chinese, Japanese or Korean
    script ("山田 太郎"), given name first otherwise ("Taro Yamada")."""
    if not first or not last:
        return first or last
    if _east_asian(first) and _east_asian(last):
        return f"{last} {first}"
    return f"{first} {last}"


_EAST_ASIAN_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")


def _east_asian(text: str) -> bool:
    letters = [char for char in text if char.isalpha()]
    return bool(letters) and all(
        unicodedata.name(char, "").startswith(_EAST_ASIAN_SCRIPTS) for char in letters
    )
