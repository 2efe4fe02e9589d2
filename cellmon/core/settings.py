"""One settings object for the whole service, read from the environment (and `.env`).

Variable names follow the original specification (PROJECT_NAME, POSTGRES_*, INFLUXDB_*,
REDIS_*); cellmon's own additions carry the CELLMON_ prefix. A backend whose variables are
unset falls back to its embedded implementation, so the bare defaults serve a whole class from
one laptop with no services.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    PROJECT_NAME: str = "Student Progress Tracker API"
    PROJECT_VERSION: str = "1.0.0"
    API_V1_STR: str = "/api/v1"
    # Origins allowed to call the API from a browser, besides any localhost / 127.0.0.1 port
    # (where JupyterLab runs for a single teacher). Comma-separated or a JSON list; "*" = any.
    BACKEND_CORS_ORIGINS: Annotated[list[str], NoDecode] = Field(default_factory=list)

    CELLMON_HOST: str = "127.0.0.1"
    CELLMON_PORT: int = Field(default=8000, ge=1, le=65535)
    CELLMON_DATA_DIR: Path = Path(".cellmon")
    CELLMON_LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "auto": plain lines on a terminal, one JSON object per line otherwise.
    CELLMON_LOG_FORMAT: Literal["auto", "json", "console"] = "auto"
    # A line per HTTP request (uvicorn's access log, ingest keys masked): off, as it costs the
    # one-event route about 6 us; /metrics counts and times requests by route instead.
    CELLMON_ACCESS_LOG: bool = False

    # PostgreSQL is used when POSTGRES_SERVER is set; otherwise a SQLite file in the data dir.
    POSTGRES_SERVER: str | None = None
    POSTGRES_PORT: int = Field(default=5432, ge=1, le=65535)
    POSTGRES_USER: str = "postgres"
    POSTGRES_PASSWORD: SecretStr = SecretStr("")
    POSTGRES_DB: str = "cellmon"
    CELLMON_DB_POOL_SIZE: int = Field(default=10, ge=1)
    CELLMON_DB_MAX_OVERFLOW: int = Field(default=10, ge=0)

    # InfluxDB is used when INFLUXDB_URL is set; otherwise points go to the SQL database.
    INFLUXDB_URL: str | None = None
    INFLUXDB_TOKEN: SecretStr | None = None
    INFLUXDB_ORG: str = ""
    # On InfluxDB 2.x the bucket; on 1.x (INFLUXDB_API_VERSION=1) the database name.
    INFLUXDB_BUCKET: str = "progress_bucket"
    INFLUXDB_API_VERSION: Literal[1, 2] = 2
    # Lines per write request; each request is tried 3 times, the waits doubling from
    # CELLMON_INFLUXDB_RETRY_SECONDS. What still fails is kept in the database and retried
    # every CELLMON_INFLUXDB_PENDING_INTERVAL_SECONDS, backing off up to ..._PENDING_MAX_SECONDS.
    CELLMON_INFLUXDB_BATCH_LINES: int = Field(default=5000, ge=1)
    CELLMON_INFLUXDB_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    CELLMON_INFLUXDB_RETRY_SECONDS: float = Field(default=0.5, ge=0)
    CELLMON_INFLUXDB_PENDING_INTERVAL_SECONDS: float = Field(default=5.0, gt=0)
    CELLMON_INFLUXDB_PENDING_MAX_SECONDS: float = Field(default=300.0, gt=0)

    # Redis carries the work queue and the pub/sub bus when REDIS_HOST is set; otherwise both
    # are embedded (a queue table in the SQL database, an in-process bus).
    REDIS_HOST: str | None = None
    REDIS_PORT: int = Field(default=6379, ge=1, le=65535)
    REDIS_DB: int = Field(default=0, ge=0)
    REDIS_PASSWORD: SecretStr | None = None
    # Prefix of every Redis key and channel cellmon uses, so that deployments can share a server.
    CELLMON_REDIS_PREFIX: str = "cellmon"

    # Ingest limits (documented in docs/operations.md).
    CELLMON_MAX_EVENTS_PER_REQUEST: int = Field(default=1000, ge=1)
    CELLMON_MAX_BODY_BYTES: int = Field(default=10 * 1024 * 1024, ge=1024)
    CELLMON_MAX_FIELD_BYTES: int = Field(default=64 * 1024, ge=256)
    # The body of every other route; the largest is a submission's notebook.
    CELLMON_MAX_API_BODY_BYTES: int = Field(default=8 * 1024 * 1024, ge=1024)

    # Live updates over /ws (documented in docs/operations.md).
    CELLMON_WS_MAX_CHANNELS: int = Field(default=1000, ge=1)
    # Messages waiting for one slow client before it is dropped (close code 4008).
    CELLMON_WS_SEND_QUEUE: int = Field(default=1000, ge=1)
    # WebSocket ping frames from the server; a client that does not answer is disconnected.
    CELLMON_WS_PING_INTERVAL: float = Field(default=20.0, gt=0)
    CELLMON_WS_PING_TIMEOUT: float = Field(default=20.0, gt=0)
    # Open /ws connections per account and per client address, counted in each process
    # (close code 4429 beyond them). Per address: a lecture hall behind one NAT, where 200
    # students may each watch their notifications beside the instructors' and TAs' tabs.
    CELLMON_WS_MAX_CONNECTIONS_PER_USER: int = Field(default=20, ge=1)
    CELLMON_WS_MAX_CONNECTIONS_PER_ADDRESS: int = Field(default=500, ge=1)

    # How long the test-event API keeps what it is sent.
    CELLMON_TEST_EVENTS_RETENTION_SECONDS: int = Field(default=600, ge=1)

    # Run a queue worker inside the API process. Unset: yes when the queue is embedded.
    CELLMON_RUN_WORKER_IN_SERVER: bool | None = None
    # A batch pays its statements, commit, time-series write and queue round trips once, and
    # each student's row work once however many of their events it holds: with 1,000 students
    # sending, 5000 cost about 70 CPU-us per event in all processes against 95 for 1000 (and
    # 65 against 120 embedded), and InfluxDB takes 5000-point writes for 8 us a point
    # against 12. A batch is only as large as the backlog: under light load it is what came.
    CELLMON_WORKER_BATCH_SIZE: int = Field(default=5000, ge=1)
    # Attempts at an event whose handler fails before it goes to the dead letters, and the
    # first back-off between them (doubled at each attempt).
    CELLMON_WORKER_MAX_ATTEMPTS: int = Field(default=3, ge=1)
    CELLMON_WORKER_RETRY_BASE_SECONDS: float = Field(default=0.1, ge=0)
    # A claimed queue entry not acknowledged for this long is delivered to another worker.
    CELLMON_QUEUE_LEASE_SECONDS: float = Field(default=60, gt=0)

    # "production" refuses unsafe settings at start-up and requires an ingest key on events
    # (docs/security.md); "development" takes keyless events, as `make run` does.
    CELLMON_ENV: Literal["development", "production"] = "development"
    # Signs access tokens. Unset: generated once into CELLMON_DATA_DIR/secret_key (development
    # only; every process of a production deployment needs the same value).
    CELLMON_SECRET_KEY: SecretStr | None = None
    CELLMON_ACCESS_TOKEN_MINUTES: int = Field(default=60, ge=1, le=60 * 24 * 30)
    # The first admin, created on the first start when no account exists yet.
    CELLMON_ADMIN_EMAIL: str | None = None
    CELLMON_ADMIN_PASSWORD: SecretStr | None = None
    # Bearer token that GET /metrics requires; unset, /metrics answers anyone (docs/operations.md).
    CELLMON_METRICS_TOKEN: SecretStr | None = None
    # How long a process trusts its cached answer about an ingest key (a revoked key stops
    # working everywhere within this time).
    CELLMON_INGEST_KEY_CACHE_SECONDS: float = Field(default=30.0, ge=0)

    # Rate limits ("N/minute", "N/5 minutes", ...; "0" turns one off). Sized in
    # docs/operations.md: the ingest limits hold a 200-student class behind one NAT address
    # running every cell at once, with the client's retries, and stop only floods.
    CELLMON_RATE_LIMIT_SIGNIN_PER_ACCOUNT: str = "10/5 minutes"
    CELLMON_RATE_LIMIT_SIGNIN_PER_ADDRESS: str = "300/5 minutes"
    CELLMON_RATE_LIMIT_INGEST_PER_KEY: str = "100000/minute"
    CELLMON_RATE_LIMIT_INGEST_PER_ADDRESS: str = "200000/minute"
    CELLMON_RATE_LIMIT_WRITES_PER_USER: str = "1200/minute"

    @field_validator("INFLUXDB_API_VERSION", mode="before")
    @classmethod
    def _version_number(cls, value: object) -> object:
        # The environment gives "1"; a Literal of ints does not coerce strings by itself.
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @field_validator(
        "CELLMON_RATE_LIMIT_SIGNIN_PER_ACCOUNT",
        "CELLMON_RATE_LIMIT_SIGNIN_PER_ADDRESS",
        "CELLMON_RATE_LIMIT_INGEST_PER_KEY",
        "CELLMON_RATE_LIMIT_INGEST_PER_ADDRESS",
        "CELLMON_RATE_LIMIT_WRITES_PER_USER",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from cellmon.core.ratelimit import parse_limit

        parse_limit(value)
        return value

    @field_validator("BACKEND_CORS_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @property
    def is_production(self) -> bool:
        return self.CELLMON_ENV == "production"

    @property
    def uses_postgres(self) -> bool:
        return self.POSTGRES_SERVER is not None

    @property
    def uses_redis(self) -> bool:
        return self.REDIS_HOST is not None

    @property
    def uses_influxdb(self) -> bool:
        return self.INFLUXDB_URL is not None

    @property
    def run_worker_in_server(self) -> bool:
        if self.CELLMON_RUN_WORKER_IN_SERVER is not None:
            return self.CELLMON_RUN_WORKER_IN_SERVER
        return not self.uses_redis

    @cached_property
    def database_url(self) -> URL:
        if self.POSTGRES_SERVER is not None:
            return URL.create(
                "postgresql+asyncpg",
                username=self.POSTGRES_USER,
                password=self.POSTGRES_PASSWORD.get_secret_value() or None,
                host=self.POSTGRES_SERVER,
                port=self.POSTGRES_PORT,
                database=self.POSTGRES_DB,
            )
        return URL.create("sqlite+aiosqlite", database=str(self.CELLMON_DATA_DIR / "cellmon.db"))

    @cached_property
    def redis_url(self) -> str:
        password = self.REDIS_PASSWORD.get_secret_value() if self.REDIS_PASSWORD else ""
        # Escaped, so that a password's "@", "/", "#" or ":" cannot end it or move the host.
        auth = f":{quote(password, safe='')}@" if password else ""
        return f"redis://{auth}{self.REDIS_HOST}:{self.REDIS_PORT}/{self.REDIS_DB}"


def load_settings() -> Settings:
    """Settings from the environment; a bad value raises ConfigError naming the variable."""
    from pydantic import ValidationError

    from cellmon.core.errors import ConfigError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(f"{variable}: {first['msg']}") from exc
