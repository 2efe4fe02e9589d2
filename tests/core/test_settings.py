from pathlib import Path

import pytest
from redis.connection import parse_url

from cellmon.core.errors import ConfigError
from cellmon.core.settings import load_settings
from tests.services import make_settings


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # load_settings() reads ./.env; a developer's own file must not change these tests.
    monkeypatch.chdir(tmp_path)


def test_defaults_serve_the_clients_default_address_on_embedded_storage() -> None:
    settings = make_settings()
    assert (settings.CELLMON_HOST, settings.CELLMON_PORT) == ("127.0.0.1", 8000)
    assert settings.API_V1_STR == "/api/v1"
    assert settings.database_url.get_backend_name() == "sqlite"
    assert settings.database_url.database == str(Path(".cellmon") / "cellmon.db")
    assert not settings.uses_redis
    assert not settings.uses_influxdb
    assert settings.run_worker_in_server


def test_postgres_is_used_when_its_server_is_set() -> None:
    settings = make_settings(POSTGRES_SERVER="db.example", POSTGRES_DB="progress_db")
    url = settings.database_url
    assert (url.drivername, url.host, url.port, url.database) == (
        "postgresql+asyncpg",
        "db.example",
        5432,
        "progress_db",
    )


def test_redis_moves_the_worker_out_of_the_server_by_default() -> None:
    assert not make_settings(REDIS_HOST="127.0.0.1").run_worker_in_server
    assert make_settings(
        REDIS_HOST="127.0.0.1", CELLMON_RUN_WORKER_IN_SERVER=True
    ).run_worker_in_server


@pytest.mark.parametrize("password", ["p@ss/w#rd", "a:b?c%d e", "plain"])
def test_redis_password_reaches_the_client_whole_and_leaves_the_host_alone(
    password: str,
) -> None:
    settings = make_settings(
        REDIS_HOST="redis.example", REDIS_PORT=6380, REDIS_DB=2, REDIS_PASSWORD=password
    )
    # The client's own reading of the URL, as Redis.from_url and the rate limiter do it.
    assert parse_url(settings.redis_url) == {
        "password": password,
        "host": "redis.example",
        "port": 6380,
        "db": 2,
    }


def test_redis_url_without_a_password_carries_no_credentials() -> None:
    settings = make_settings(REDIS_HOST="redis.example")
    assert parse_url(settings.redis_url) == {"host": "redis.example", "port": 6379, "db": 0}


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        (
            "https://hub.example.edu, http://lab.example:8888",
            ["https://hub.example.edu", "http://lab.example:8888"],
        ),
        ('["https://hub.example.edu"]', ["https://hub.example.edu"]),
        ("*", ["*"]),
        ("", []),
    ],
)
def test_cors_origins_read_as_a_list_or_json(
    raw: str, origins: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKEND_CORS_ORIGINS", raw)
    assert origins == load_settings().BACKEND_CORS_ORIGINS


def test_a_bad_value_raises_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTGRES_PORT", "five")
    with pytest.raises(ConfigError, match="POSTGRES_PORT"):
        load_settings()


@pytest.mark.parametrize("version", ["1", "2"])
def test_influxdb_api_version_is_read_from_the_environment(
    version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFLUXDB_API_VERSION", version)
    assert int(version) == load_settings().INFLUXDB_API_VERSION
