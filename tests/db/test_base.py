from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from cellmon.db.base import UTCDateTime

MOMENTS = [
    datetime(2026, 11, 29, 15, 30, 0, tzinfo=UTC),
    datetime(2026, 11, 29, 15, 30, 0, 123456, tzinfo=UTC),
    datetime(5, 1, 2, 3, 4, 5, 7, tzinfo=UTC),
    datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2024, 2, 29, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=1))),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_timestamps_are_stored_as_sqlalchemy_wrote_them(moment: datetime) -> None:
    # Rows stored before keep comparing as text with the ones written now.
    process = UTCDateTime().bind_processor(sqlite.dialect())
    sqlalchemy_text = sqlite.DATETIME().bind_processor(sqlite.dialect())

    assert process is not None
    assert sqlalchemy_text is not None
    assert process(moment) == sqlalchemy_text(moment.astimezone(UTC))


def test_sqlite_timestamps_refuse_naive_values() -> None:
    process = UTCDateTime().bind_processor(sqlite.dialect())

    assert process is not None
    assert process(None) is None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 11, 29, 15, 30))


def test_postgresql_timestamps_are_normalised_to_utc() -> None:
    process = UTCDateTime().bind_processor(postgresql.asyncpg.dialect())
    moment = MOMENTS[3]

    assert process is not None
    bound = process(moment)
    assert bound == moment
    assert bound.tzinfo is UTC
