"""The `cellmon simulate` command itself, run as a user runs it: its arguments, its exit
status and what it says when the server refuses the events."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.conftest import LiveServer

# The command's own CELLMON_SIMULATE_* defaults would change what these runs test.
ENVIRONMENT = {
    key: value for key, value in os.environ.items() if not key.startswith("CELLMON_SIMULATE_")
}


async def cellmon_simulate(*args: str) -> tuple[int, str, str]:
    """Run `cellmon simulate ARGS` without blocking the live server's loop: its exit status,
    stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cellmon",
        "simulate",
        *args,
        env=ENVIRONMENT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("option", ["--students", "--minutes", "--speed", "--connections"])
async def test_a_count_or_a_length_must_be_above_zero(option: str) -> None:
    status, _, err = await cellmon_simulate(option, "0")
    assert status == 2
    assert f"argument {option}: 0: not above 0" in err


async def test_a_count_that_is_not_a_number_is_named_as_argparse_names_it() -> None:
    status, _, err = await cellmon_simulate("--students", "many")
    assert status == 2
    assert "argument --students: invalid int value: 'many'" in err


async def test_an_account_and_a_key_at_once_are_refused() -> None:
    status, out, err = await cellmon_simulate("--email", "teacher@example.org", "--key", "k")
    assert (status, out) == (1, "")
    assert "give it or --key, not both" in err


async def test_refused_events_end_the_run_in_failure_with_the_reason(
    live_server: LiveServer,
) -> None:
    status, out, _ = await cellmon_simulate(
        "--url",
        live_server.base_url,
        "--key",
        "no-such-key",
        "--students",
        "2",
        "--minutes",
        "0.2",
        "--speed",
        "4",
    )
    assert status == 1
    assert "401: the server wants a class's ingest key" in out
    assert "accepted" in out
