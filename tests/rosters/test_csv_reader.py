"""Reading the CSV files LMSs and spreadsheets export, without a server."""

from __future__ import annotations

import pytest

from cellmon.rosters.csv_reader import (
    RosterRow,
    RosterTooLong,
    UnreadableRoster,
    joined_name,
    read_roster,
)
from cellmon.rosters.schemas import MAX_ROSTER_ROWS


def test_moodle_export_with_a_byte_order_mark_and_crlf() -> None:
    body = (
        "\ufeffFirst name,Last name,ID number,Email address,Groups\r\n"
        "Ada,Lovelace,S001,ADA@Example.org,Team 1\r\n"
        "Alan,Turing,S002,alan@example.org,\r\n"
    ).encode()

    roster = read_roster(body)

    assert roster.rows == [
        RosterRow(2, "ADA@Example.org", "Ada Lovelace", "Team 1"),
        RosterRow(3, "alan@example.org", "Alan Turing", None),
    ]
    assert roster.ignored_columns == ["ID number"]


def test_japanese_headers_semicolons_and_family_name_first() -> None:
    body = (
        "学籍番号;姓;名;メールアドレス;グループ\n"
        "A1001;山田;太郎;taro@example.jp;チームA\n"
        "A1002;Smith;Jane;jane@example.jp;チームB\n"
    ).encode()

    roster = read_roster(body)

    assert [(row.name, row.team_name) for row in roster.rows] == [
        ("山田 太郎", "チームA"),
        ("Jane Smith", "チームB"),
    ]
    assert roster.ignored_columns == ["学籍番号"]


@pytest.mark.parametrize(
    "header",
    ["email", "E-mail", "Email Address", "e_mail", "ＥＭＡＩＬ", "Eメールアドレス", " mail "],
)
def test_the_e_mail_column_under_its_usual_names(header: str) -> None:
    roster = read_roster(f"{header},Full Name\na@example.org,A\n".encode())
    assert roster.rows == [RosterRow(2, "a@example.org", "A", None)]


def test_tabs_quotes_blank_rows_and_short_rows() -> None:
    body = (
        b'name\temail\tteam\n\n"Doe, ""JD"" Jane"\tjd@example.org\t\n'
        b'"Multi\nline"\tml@example.org\n\t\t\nonly-name\n'
    )

    roster = read_roster(body)

    assert roster.rows == [
        RosterRow(3, "jd@example.org", 'Doe, "JD" Jane', None),
        RosterRow(4, "ml@example.org", "Multi\nline", None),
        RosterRow(6, None, "only-name", None),
    ]


def test_a_full_name_column_wins_over_the_parts_it_names_first() -> None:
    roster = read_roster(b"email,name,first name,last name\na@x.org,Given,First,Last\n")
    assert roster.rows[0].name == "Given"
    roster = read_roster(b"email,name,first name,last name\na@x.org,,First,Last\n")
    assert roster.rows[0].name == "First Last"
    # A second column for the same field is the first one's duplicate: ignored and said so.
    roster = read_roster(b"email,Email address,team\na@x.org,b@x.org,T\n")
    assert (roster.rows[0].email, roster.ignored_columns) == ("a@x.org", ["Email address"])


def test_a_charset_named_by_the_request() -> None:
    body = "氏名,メール\n鈴木 花子,hanako@example.jp\n".encode("shift_jis")
    assert read_roster(body, "Shift_JIS").rows == [
        RosterRow(2, "hanako@example.jp", "鈴木 花子", None)
    ]


@pytest.mark.parametrize(
    ("body", "charset", "message"),
    [
        (b"", None, "the file is empty"),
        (b"\n \n", None, "the file is empty"),
        (b"name,team\nA,B\n", None, "names no e-mail column (found 'name', 'team')"),
        ("氏名,メール\n".encode("shift_jis"), None, "is not UTF-8 text"),
        (b"email\n", "klingon", "unknown charset 'klingon'"),
        (b"email\n", "base64", "charset 'base64' in Content-Type is not a text encoding"),
        (b"email\n", "punycode", "the file is not PUNYCODE text; save it as CSV UTF-8"),
        (b'email\n"a@x.org\n', None, "row 2 cannot be read as CSV"),
    ],
)
def test_a_file_that_is_no_roster_is_refused_saying_why(
    body: bytes, charset: str | None, message: str
) -> None:
    with pytest.raises(UnreadableRoster, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_roster(body, charset)


def test_a_header_alone_is_an_empty_roster() -> None:
    assert read_roster(b"email,name\r\n").rows == []


def test_at_most_max_rows_not_counting_blank_ones() -> None:
    rows = "".join(f"s{n}@example.org\n\n" for n in range(MAX_ROSTER_ROWS))
    assert len(read_roster(f"email\n{rows}".encode()).rows) == MAX_ROSTER_ROWS
    with pytest.raises(RosterTooLong, match="more than 5,000 rows"):
        read_roster(f"email\n{rows}one-too-many@example.org\n".encode())


@pytest.mark.parametrize(
    ("first", "last", "full"),
    [
        ("太郎", "山田", "山田 太郎"),
        ("ハナコ", "すずき", "すずき ハナコ"),
        ("Taro", "山田", "Taro 山田"),
        ("Taro", "Yamada", "Taro Yamada"),
        (None, "Yamada", "Yamada"),
        ("Taro", None, "Taro"),
        (None, None, None),
    ],
)
def test_joined_name(first: str | None, last: str | None, full: str | None) -> None:
    assert joined_name(first, last) == full
