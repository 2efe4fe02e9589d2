"""The `cellmon` command refuses a bad or unreachable configuration with one clear line."""

from __future__ import annotations

import asyncio
import getpass
import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cellmon.auth.service import authenticate
from cellmon.cli import (
    DEVELOPMENT_ADMIN_EMAIL,
    REASON_MAX_CHARS,
    build_parser,
    ensure_first_admin,
    failure_reason,
    main,
)
from cellmon.core.database import Database
from cellmon.core.errors import ConfigError
from cellmon.core.settings import Settings
from cellmon.db.models import AuditEntry, User
from cellmon.greeting import command_words
from tests.services import make_settings


def clean_environment() -> dict[str, str]:
    """This environment without the services' and cellmon's settings (the test's own)."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POSTGRES_", "REDIS_", "INFLUXDB_", "CELLMON_"))
    }


def run_cellmon(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cellmon", *args],
        env={**clean_environment(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"CELLMON_PORT": "not-a-port"}, "CELLMON_PORT"),
        ({"CELLMON_PORT": "70000"}, "CELLMON_PORT"),
        ({"INFLUXDB_API_VERSION": "3"}, "INFLUXDB_API_VERSION"),
        ({"POSTGRES_PORT": "five"}, "POSTGRES_PORT"),
    ],
)
def test_a_bad_value_is_named_in_one_line(
    env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    result = run_cellmon(["serve"], env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        # Port 1 on the loopback refuses connections at once.
        ({"POSTGRES_SERVER": "127.0.0.1", "POSTGRES_PORT": "1"}, "POSTGRES_SERVER"),
        ({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "1"}, "REDIS_HOST"),
    ],
)
def test_an_unreachable_service_is_named_in_one_line(
    env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    result = run_cellmon(
        ["serve", "--port", "1"], {"CELLMON_DATA_DIR": str(tmp_path), **env}, tmp_path
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "unreachable" in lines[0]


def test_serve_on_a_database_not_migrated_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_cellmon(["serve", "--port", "1"], {"CELLMON_DATA_DIR": str(tmp_path)}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not migrated" in lines[0]
    assert "cellmon db upgrade" in lines[0]


def test_db_upgrade_creates_the_embedded_database(tmp_path: Path) -> None:
    result = run_cellmon(["db", "upgrade"], {"CELLMON_DATA_DIR": str(tmp_path / "data")}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "cellmon.db").is_file()


def test_a_worker_records_two_batches_at_once_by_default() -> None:
    from cellmon.cli import build_parser

    assert build_parser().parse_args(["worker"]).concurrency == 2
    assert build_parser().parse_args(["worker", "--concurrency", "1"]).concurrency == 1


# --- accounts on the command line, the first admin, and `cellmon dlq` in production -------


@pytest.fixture
def cli_env(
    database_overrides: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The environment `cellmon.cli.main` reads: a clean database of the parametrized kind;
    the logging set-up main() makes is undone afterwards."""
    for name in list(os.environ):
        if name.startswith(("POSTGRES_", "REDIS_", "INFLUXDB_", "CELLMON_", "BACKEND_")):
            monkeypatch.delenv(name)
    for name, value in database_overrides.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.chdir(database_overrides["CELLMON_DATA_DIR"])  # no .env file there
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield make_settings(**database_overrides)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def accounts(settings: Settings) -> dict[str, tuple[str, bool]]:
    async def read() -> dict[str, tuple[str, bool]]:
        database = Database(settings)
        try:
            async with database.sessions() as session:
                users = (await session.scalars(select(User))).all()
                return {user.email: (user.role, user.is_active) for user in users}
        finally:
            await database.dispose()

    return asyncio.run(read())


def audit_actions(settings: Settings) -> list[tuple[str, int | None]]:
    async def read() -> list[tuple[str, int | None]]:
        database = Database(settings)
        try:
            async with database.sessions() as session:
                entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
                return [(entry.action, entry.actor_id) for entry in entries]
        finally:
            await database.dispose()

    return asyncio.run(read())


def signs_in(settings: Settings, email: str, password: str) -> bool:
    async def attempt() -> bool:
        database = Database(settings)
        try:
            async with database.sessions() as session:
                return await authenticate(session, email, password) is not None
        finally:
            await database.dispose()

    return asyncio.run(attempt())


NEW_PASSWORD = "a long and new password"


def test_create_admin_reads_the_password_from_stdin(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, NEW_PASSWORD + "\n")
    main(["users", "create-admin", "Boss@Example.org"])
    assert accounts(cli_env) == {"boss@example.org": ("admin", True)}
    assert signs_in(cli_env, "boss@example.org", NEW_PASSWORD)
    assert audit_actions(cli_env) == [("user.create", None)]
    assert NEW_PASSWORD not in capsys.readouterr().out


def test_a_terminal_is_asked_twice_without_echo(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([NEW_PASSWORD, "typed differently"])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(getpass, "getpass", lambda prompt: next(answers))
    with pytest.raises(SystemExit) as exited:
        main(["users", "create-admin", "boss@example.org"])
    assert exited.value.code == 1
    assert accounts(cli_env) == {}


def test_create_list_disable_and_reset(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, NEW_PASSWORD + "\n")
    main(["users", "create", "t@example.org", "--role", "instructor", "--name", "T"])
    stdin(monkeypatch, NEW_PASSWORD + "\n")
    main(["users", "create", "s@example.org", "--role", "student"])
    capsys.readouterr()
    main(["users", "list"])
    listed = capsys.readouterr().out
    assert "t@example.org\tinstructor\tactive" in listed
    assert "s@example.org\tstudent\tactive" in listed

    main(["users", "disable", "s@example.org"])
    assert accounts(cli_env)["s@example.org"] == ("student", False)

    stdin(monkeypatch, "another new password\n")
    main(["users", "reset-password", "t@example.org"])
    assert signs_in(cli_env, "t@example.org", "another new password")
    assert not signs_in(cli_env, "t@example.org", NEW_PASSWORD)
    assert [action for action, _actor in audit_actions(cli_env)] == [
        "user.create",
        "user.create",
        "user.update",
        "user.password_reset",
    ]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["users", "create-admin", "not-an-address"], NEW_PASSWORD, "not an e-mail address"),
        (["users", "create-admin", "a@example.org"], "short", "at least"),
        (["users", "create-admin", "a@example.org"], "", "no password on stdin"),
        (["users", "disable", "nobody@example.org"], "", "no account"),
    ],
)
def test_a_bad_request_is_one_line_and_exit_code_1(
    cli_env: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    password: str,
    message: str,
) -> None:
    stdin(monkeypatch, password + "\n" if password else "")
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 1
    assert message in capsys.readouterr().err


def test_an_address_taken_is_refused(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, NEW_PASSWORD + "\n")
    main(["users", "create-admin", "boss@example.org"])
    stdin(monkeypatch, NEW_PASSWORD + "\n")
    with pytest.raises(SystemExit) as exited:
        main(["users", "create", "boss@example.org", "--role", "student"])
    assert exited.value.code == 1
    assert "already exists" in capsys.readouterr().err


def test_the_password_is_never_an_argument() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["users", "create-admin", "a@example.org", "--password", "x"])


async def test_development_makes_an_admin_and_hands_its_password_to_the_greeting_once(
    settings: Settings, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    password = await ensure_first_admin(settings)
    assert password is not None
    assert password not in caplog.text
    assert capsys.readouterr().out == ""  # the greeting prints it (below)
    database = Database(settings)
    try:
        async with database.sessions() as session:
            assert await authenticate(session, DEVELOPMENT_ADMIN_EMAIL, password)
    finally:
        await database.dispose()
    assert await ensure_first_admin(settings) is None


async def test_the_environment_names_the_first_admin(
    database_overrides: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        **database_overrides,
        CELLMON_ADMIN_EMAIL="Head@Example.org",
        CELLMON_ADMIN_PASSWORD=NEW_PASSWORD,
    )
    assert await ensure_first_admin(settings) is None
    assert capsys.readouterr().out == ""
    database = Database(settings)
    try:
        async with database.sessions() as session:
            user = await authenticate(session, "head@example.org", NEW_PASSWORD)
            assert user is not None
            assert user.role == "admin"
    finally:
        await database.dispose()


async def test_servers_starting_at_once_make_one_admin(
    database_overrides: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        **database_overrides,
        CELLMON_ADMIN_EMAIL="head@example.org",
        CELLMON_ADMIN_PASSWORD=NEW_PASSWORD,
    )
    await asyncio.gather(*(ensure_first_admin(settings) for _ in range(3)))
    database = Database(settings)
    try:
        async with database.sessions() as session:
            assert len((await session.scalars(select(User))).all()) == 1
    finally:
        await database.dispose()


async def test_production_without_an_account_says_how_to_make_one(
    database_overrides: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(**database_overrides, CELLMON_ENV="production")
    await ensure_first_admin(settings)
    assert capsys.readouterr().out == ""
    assert "cellmon users create-admin" in caplog.text


async def test_half_of_the_first_admin_is_a_configuration_error(
    database_overrides: dict[str, Any],
) -> None:
    settings = make_settings(**database_overrides, CELLMON_ADMIN_EMAIL="head@example.org")
    with pytest.raises(ConfigError, match="CELLMON_ADMIN_PASSWORD"):
        await ensure_first_admin(settings)


def test_dlq_in_production_needs_an_admin(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, NEW_PASSWORD + "\n")
    main(["users", "create-admin", "boss@example.org"])
    stdin(monkeypatch, NEW_PASSWORD + "\n")
    main(["users", "create", "t@example.org", "--role", "instructor"])
    monkeypatch.setenv("CELLMON_ENV", "production")
    monkeypatch.setenv("CELLMON_SECRET_KEY", "a-production-secret-that-is-long-enough-for-hs256")

    with pytest.raises(SystemExit) as exited:
        main(["dlq", "list"])
    assert exited.value.code == 1
    for who, password in [("boss@example.org", "wrong password"), ("t@example.org", NEW_PASSWORD)]:
        stdin(monkeypatch, password + "\n")
        with pytest.raises(SystemExit) as exited:
            main(["dlq", "--admin", who, "replay", "--all"])
        assert exited.value.code == 1
        assert "not an active admin" in capsys.readouterr().err

    stdin(monkeypatch, NEW_PASSWORD + "\n")
    main(["dlq", "--admin", "boss@example.org", "replay", "--all"])
    admin_id = next(actor for action, actor in audit_actions(cli_env) if action == "dlq.replay")
    assert admin_id is not None


def test_dlq_reason_names_the_drivers_exception_on_one_line() -> None:
    wrapped = (
        "DataError: <class 'asyncpg.exceptions.NumericValueOutOfRangeError'>: invalid input "
        "for query argument $3: 18446744073709551616\n(value out of int64 range)"
    )
    assert failure_reason(wrapped) == (
        "NumericValueOutOfRangeError: invalid input for query argument $3: "
        "18446744073709551616 (value out of int64 range)"
    )
    long_reason = failure_reason("ValueError: " + "x" * 1000)
    assert len(long_reason) == REASON_MAX_CHARS
    assert long_reason.endswith("…")


# --- `make run`: the migration's one line and the server's greeting ---------------------------


def test_db_upgrade_says_its_outcome_in_one_line_without_alembics_chatter(
    tmp_path: Path,
) -> None:
    env = {"CELLMON_DATA_DIR": str(tmp_path)}
    first = run_cellmon(["db", "upgrade"], env, tmp_path)
    again = run_cellmon(["db", "upgrade"], env, tmp_path)
    assert first.returncode == again.returncode == 0
    assert first.stderr == again.stderr == ""  # no log line at INFO
    [migrated] = first.stdout.splitlines()
    assert re.fullmatch(r"cellmon: migrated the database \(.*cellmon\.db\) from - to \w+", migrated)
    [already] = again.stdout.splitlines()
    assert already.endswith(f"is already at {migrated.split()[-1]}")
    debug = run_cellmon(["db", "upgrade"], {**env, "CELLMON_LOG_LEVEL": "DEBUG"}, tmp_path)
    assert "alembic" in debug.stderr  # still there for who asks


GREETING_WAIT_SECONDS = 60


def greeting_of(tmp_path: Path) -> tuple[str, str]:
    """Start `cellmon serve` on a free port, read its stdout up to the greeting's end, stop it
    with SIGINT (after GREETING_WAIT_SECONDS without it, too); its stdout and stderr."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "cellmon"), "serve", "--port", str(port)],
        env={**clean_environment(), "CELLMON_DATA_DIR": str(tmp_path / "data")},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    lines = []
    # A server that listens without greeting would keep the loop below reading for good.
    watchdog = threading.Timer(GREETING_WAIT_SECONDS, server.send_signal, [signal.SIGINT])
    watchdog.start()
    try:
        for line in server.stdout:  # ends when the server does
            lines.append(line)
            if line.startswith("Ctrl-C stops the server."):
                break
    finally:
        watchdog.cancel()
        server.send_signal(signal.SIGINT)
        rest, errors = server.communicate(timeout=30)
    return "".join(lines) + rest, errors


def test_serve_greets_with_the_addresses_the_sign_in_and_the_next_step(tmp_path: Path) -> None:
    migrated = run_cellmon(
        ["db", "upgrade"], {"CELLMON_DATA_DIR": str(tmp_path / "data")}, tmp_path
    )
    assert migrated.returncode == 0
    first, first_log = greeting_of(tmp_path)
    url = re.search(r"Dashboard  (http://127\.0\.0\.1:\d+)/dashboard\n", first)
    assert url is not None
    assert f"API docs   {url.group(1)}/docs\n" in first
    password = re.search(r"Password   (\S+)\n", first)
    assert password is not None
    assert f"Sign in    {DEVELOPMENT_ADMIN_EMAIL}\n" in first
    command = f"simulate --email {DEVELOPMENT_ADMIN_EMAIL} --url {url.group(1)}\n"
    assert command in first
    assert first.count(password.group(1)) == 1

    again, again_log = greeting_of(tmp_path)
    assert "Dashboard  http://127.0.0.1:" in again
    assert DEVELOPMENT_ADMIN_EMAIL in again
    assert "Password" not in again
    for text in (first_log, again, again_log):
        assert password.group(1) not in text


def test_the_greeting_names_cellmon_as_this_shell_reached_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    program = project / ".venv" / "bin" / "cellmon"
    program.parent.mkdir(parents=True)
    elsewhere.mkdir()
    program.write_text("")
    program.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(program), "serve"])
    monkeypatch.chdir(project)
    assert command_words() == [".venv/bin/cellmon"]  # as `make run` starts it
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PATH", str(program.parent))
    assert command_words() == ["cellmon"]  # the shell found it on the PATH
    monkeypatch.setenv("PATH", str(elsewhere))
    assert command_words() == [str(program)]
    monkeypatch.setattr(sys, "argv", [str(project / "cellmon" / "__main__.py"), "serve"])
    assert command_words()[1:] == ["-m", "cellmon"]
