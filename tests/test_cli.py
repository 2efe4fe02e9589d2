"""The `cellmon` command refuses a bad or unreachable configuration with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cellmon(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POSTGRES_", "REDIS_", "INFLUXDB_", "CELLMON_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "cellmon", *args],
        env={**clean, **env},
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


def test_db_upgrade_creates_the_embedded_database(tmp_path: Path) -> None:
    result = run_cellmon(["db", "upgrade"], {"CELLMON_DATA_DIR": str(tmp_path / "data")}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "cellmon.db").is_file()


def test_a_worker_records_two_batches_at_once_by_default() -> None:
    from cellmon.cli import build_parser

    assert build_parser().parse_args(["worker"]).concurrency == 2
    assert build_parser().parse_args(["worker", "--concurrency", "1"]).concurrency == 1
