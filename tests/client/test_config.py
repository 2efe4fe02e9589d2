"""Where the client sends and who it says the student is."""

from __future__ import annotations

import pytest

from cellmon.client.config import CellmonClient, events_url

ENVIRONMENT = (
    "CELLMON_SERVER_URL",
    "CELLMON_INGEST_KEY",
    "CELLMON_EMAIL",
    "CELLMON_USER_NAME",
    "CELLMON_TEAM_NAME",
    "CELLMON_NOTEBOOK_PATH",
    "JPY_SESSION_NAME",
    "JUPYTERHUB_USER",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("server_url", "key", "expected"),
    [
        ("http://h:8000", "", "http://h:8000/api/v1/events"),
        ("http://h:8000/", "k1", "http://h:8000/api/v1/events?key=k1"),
        ("http://h/api/v1/events?key=given", "other", "http://h/api/v1/events?key=given"),
        ("https://h/cellmon/api/v1/events", "k/1", "https://h/cellmon/api/v1/events?key=k%2F1"),
    ],
)
def test_events_url(server_url: str, key: str, expected: str) -> None:
    assert events_url(server_url, key) == expected


def test_defaults_without_configuration() -> None:
    config = CellmonClient()
    assert config.events_url() == "http://localhost:8000/api/v1/events"
    assert (config.email, config.user_name, config.team_name) == ("", "", "")
    assert config.notebook_in({}) == "unknown"


def test_the_environment_configures_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELLMON_SERVER_URL", "http://server:8000")
    monkeypatch.setenv("CELLMON_INGEST_KEY", "key1")
    monkeypatch.setenv("CELLMON_EMAIL", "a@example.com")
    monkeypatch.setenv("CELLMON_USER_NAME", "学生A")
    monkeypatch.setenv("CELLMON_TEAM_NAME", "チーム12")
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/a/week1.ipynb")
    config = CellmonClient()
    assert config.events_url() == "http://server:8000/api/v1/events?key=key1"
    assert (config.email, config.user_name, config.team_name) == (
        "a@example.com",
        "学生A",
        "チーム12",
    )
    assert config.notebook_in({"__session__": "elsewhere.ipynb"}) == "/home/a/week1.ipynb"


def test_jupyterhub_user_is_the_fallback_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    config = CellmonClient()
    assert (config.email, config.user_name) == ("alice", "alice")


def test_the_notebook_path_from_the_namespace() -> None:
    config = CellmonClient()
    assert config.notebook_in({"__vsc_ipynb_file__": "/w/a.ipynb"}) == "/w/a.ipynb"
    assert config.notebook_in({"__session__": " "}) == "unknown"
