import pytest

from cellmon.core.errors import ConfigError
from cellmon.core.preflight import check_services
from tests.services import make_settings


async def test_an_unreachable_influxdb_is_a_warning_not_a_refusal(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    # Points wait in the pending table, so the process must start and take events.
    settings = make_settings(CELLMON_DATA_DIR=tmp_path, INFLUXDB_URL="http://127.0.0.1:1")
    await check_services(settings)
    assert any("INFLUXDB_URL=http://127.0.0.1:1" in record.message for record in caplog.records)


async def test_an_unreachable_database_is_refused_naming_the_variable() -> None:
    settings = make_settings(POSTGRES_SERVER="127.0.0.1", POSTGRES_PORT=1)
    with pytest.raises(ConfigError, match=r"POSTGRES_SERVER=127\.0\.0\.1:1"):
        await check_services(settings)
