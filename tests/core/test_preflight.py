import pytest

from cellmon.app import create_app
from cellmon.auth.tokens import secret_key
from cellmon.core.errors import ConfigError
from cellmon.core.preflight import check_production, check_services
from cellmon.core.settings import Settings
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


PRODUCTION_SECRET = "a-production-secret-that-is-long-enough-for-hs256"


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "CELLMON_ENV": "production",
        "CELLMON_SECRET_KEY": PRODUCTION_SECRET,
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"CELLMON_SECRET_KEY": None}, "CELLMON_SECRET_KEY: required"),
        ({"CELLMON_SECRET_KEY": "x" * 31}, "CELLMON_SECRET_KEY: at least 32"),
        ({"BACKEND_CORS_ORIGINS": ["https://hub.example.edu", "*"]}, "BACKEND_CORS_ORIGINS"),
        ({"POSTGRES_PASSWORD": "secretpassword"}, "POSTGRES_PASSWORD"),
        ({"INFLUXDB_TOKEN": "my-super-secret-token"}, "INFLUXDB_TOKEN"),
        ({"REDIS_PASSWORD": "cellmon-dev"}, "REDIS_PASSWORD"),
        ({"CELLMON_ADMIN_PASSWORD": "cellmon-dev-password"}, "CELLMON_ADMIN_PASSWORD"),
        ({"POSTGRES_PASSWORD": "cellmon-dev"}, "POSTGRES_PASSWORD"),
        ({"INFLUXDB_TOKEN": "cellmon-dev-token"}, "INFLUXDB_TOKEN"),
    ],
)
def test_production_refuses_an_unsafe_setting(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        check_production(production(**overrides), secret_key)
    with pytest.raises(ConfigError, match=named):
        create_app(production(**overrides))


def test_production_names_every_problem_at_once() -> None:
    settings = production(
        CELLMON_SECRET_KEY="short", BACKEND_CORS_ORIGINS=["*"], POSTGRES_PASSWORD="secretpassword"
    )
    with pytest.raises(ConfigError) as refused:
        check_production(settings, secret_key)
    message = str(refused.value)
    for named in ("CELLMON_SECRET_KEY", "BACKEND_CORS_ORIGINS", "POSTGRES_PASSWORD"):
        assert named in message
    assert "\n" not in message


def test_a_safe_production_and_any_development_start() -> None:
    check_production(
        production(POSTGRES_PASSWORD="a-real-one", BACKEND_CORS_ORIGINS=["https://hub"]), secret_key
    )
    check_production(
        make_settings(BACKEND_CORS_ORIGINS=["*"], POSTGRES_PASSWORD="secretpassword"), secret_key
    )


def test_an_empty_admin_password_is_not_an_example_one() -> None:
    # docker-compose.prod.yml passes CELLMON_ADMIN_PASSWORD empty when it is not set.
    check_production(production(CELLMON_ADMIN_EMAIL="", CELLMON_ADMIN_PASSWORD=""), secret_key)
